// Ray's published microbenchmark figures (Ray's release/perf_metrics/microbenchmark.json,
// stored versions A and B; mean and std, operations per second, GB/s for *_gigabytes), measured
// on one m5.16xlarge (64 vCPU). The report compares with A.
export const RAY_MACHINE = 'Ray, 64-vCPU machine';

/** key -> { a: [mean, std], b: [mean, std] } */
export const rayPublished = {
  'single_client_get_calls_Plasma_Store': { a: [10620.4, 95.6], b: [10393.9, 189.0] },
  'single_client_put_calls_Plasma_Store': { a: [5173.3, 50.5], b: [5238.4, 78.2] },
  'multi_client_put_calls_Plasma_Store': { a: [16526.4, 400.4], b: [12279.8, 229.3] },
  'single_client_put_gigabytes': { a: [19.86, 8.98], b: [20.90, 6.21] },
  'single_client_tasks_and_get_batch': { a: [5.80, 3.26], b: [7.99, 0.43] },
  'multi_client_put_gigabytes': { a: [38.14, 1.39], b: [41.03, 2.95] },
  'single_client_get_object_containing_10k_refs': { a: [13.37, 0.27], b: [13.16, 0.80] },
  'single_client_wait_1k_refs': { a: [5.08, 0.12], b: [5.18, 0.07] },
  'single_client_tasks_sync': { a: [980.7, 15.1], b: [952.5, 15.8] },
  'single_client_tasks_async': { a: [8040.5, 508.5], b: [7691.0, 452.9] },
  'multi_client_tasks_async': { a: [21229.8, 1404.1], b: [22008.6, 1919.2] },
  '1_1_actor_calls_sync': { a: [2011.9, 34.2], b: [1950.2, 59.8] },
  '1_1_actor_calls_async': { a: [8663.7, 183.0], b: [7955.5, 175.6] },
  '1_1_actor_calls_concurrent': { a: [5775.0, 166.0], b: [5303.5, 194.1] },
  '1_n_actor_calls_async': { a: [8038.2, 223.7], b: [8575.2, 221.3] },
  'n_n_actor_calls_async': { a: [27375.6, 674.8], b: [27276.5, 460.9] },
  'n_n_actor_calls_with_arg_async': { a: [2759.3, 60.5], b: [2632.1, 72.5] },
  '1_1_async_actor_calls_sync': { a: [1459.7, 14.4], b: [1437.9, 45.9] },
  '1_1_async_actor_calls_async': { a: [4259.8, 244.6], b: [4784.9, 231.4] },
  '1_1_async_actor_calls_with_args_async': { a: [2836.3, 165.6], b: [2977.7, 30.9] },
  '1_n_async_actor_calls_async': { a: [7382.7, 130.7], b: [7578.1, 143.8] },
  'n_n_async_actor_calls_async': { a: [23674.5, 547.7], b: [23202.3, 522.7] },
  'placement_group_create/removal': { a: [764.6, 11.5], b: [790.9, 11.3] },
};

/** Ray's figures from release/perf_metrics/benchmarks/many_actors.json, for the scaling table. */
export const rayManyActorsPerS = 550.7;
