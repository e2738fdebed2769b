/**
 * Default values and constants of the option model (Ray's option defaults in
 * `python/ray/_private/ray_option_utils.py` and its resource defaults).
 */

/** Task retries on system failure when `maxRetries` is unset: raybus uses 4 (Ray uses 3). */
export const DEFAULT_TASK_MAX_RETRIES = 4;

/** CPUs a task holds when `numCpus` is unset. */
export const DEFAULT_TASK_NUM_CPUS = 1;

/** Resource quantities are fixed point in units of 1/10000 (Ray's RESOURCE_UNIT_SCALING). */
export const RESOURCE_UNIT_SCALING = 10000;

/** `acceleratorType: 'A100'` asks for the custom resource `accelerator_type:A100`. */
export const ACCELERATOR_TYPE_RESOURCE_PREFIX = 'accelerator_type:';

/** The quantity of `accelerator_type:<T>` a task or actor asks for (nodes advertise 1). */
export const ACCELERATOR_TYPE_REQUEST_QUANTITY = 0.001;
