// `.remote()` before `init()` starts the embedded default (as Ray does); the script never
// calls shutdown() and ends by itself, without a warning that the work is infeasible.
const ray = require('raybus');

const square = ray.remote((x) => x * x);
ray.get([1, 2, 3].map((x) => square.remote(x))).then((squares) => {
  if (squares.join() !== '1,4,9') throw new Error(`unexpected ${squares}`);
  console.log('auto-init', squares);
});
