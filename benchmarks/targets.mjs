// The speed to reach on a 2-core machine. Embedded: absolute floors, and fractions of raw fork
// IPC measured in the same run. On a broker (RabbitMQ, NATS): fractions of the raw client's
// request/reply measured in the same run, and above Moleculer on the same broker.

/** key -> minimum ops/s on the embedded default. */
export const embeddedTargets = {
  single_client_tasks_sync: 5_000,
  single_client_tasks_async: 30_000,
  '1_1_actor_calls_sync': 6_000,
  '1_1_actor_calls_async': 40_000,
  single_client_get_calls_Plasma_Store: 100_000,
  single_client_put_calls_Plasma_Store: 50_000,
  'placement_group_create/removal': 2_000,
};

/** key -> share of the fork IPC anchor of the same kind (sync / 1,000 in flight), embedded. */
export const embeddedShares = {
  single_client_tasks_sync: 0.6,
  single_client_tasks_async: 0.5,
  '1_1_actor_calls_sync': 0.6,
  '1_1_actor_calls_async': 0.5,
};

/** key -> share of the raw client's request/reply of the same kind, on a broker (amqplib, @nats-io). */
export const brokerShares = {
  single_client_tasks_sync: 0.8,
  single_client_tasks_async: 0.8,
  '1_1_actor_calls_sync': 0.8,
  '1_1_actor_calls_async': 0.8,
};
