/**
 * The layer rule of docs/ARCHITECTURE.md, checked by `npm run lint`: a module imports only
 * from its own layer or the layers below it, no import cycles anywhere, and src never reaches
 * into adapters (adapters use src's public surface only).
 */
// Bottom to top. Each entry is a folder under src/ (or a file, for the barrel).
const LAYERS = [
  'util',
  'errors',
  'protocol',
  'serialization',
  'transport',
  'observability',
  'scheduling',
  'actors',
  'refs',
  'core',
  'broker',
  'node',
  'worker',
  'di',
  'runtimes',
  'dashboard',
  'api',
  // Entry points and public surfaces: nothing imports them from below.
  '(cli|testing|bin|index\\.ts)',
];

const above = (i) => `^src/(${LAYERS.slice(i + 1).join('|')})`;

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make a module depend on itself; split the shared part into a lower layer.',
      from: {},
      to: { circular: true },
    },
    ...LAYERS.slice(0, -1).map((layer, i) => ({
      name: `layer-${layer.replace(/[^a-z]/g, '')}`,
      severity: 'error',
      comment: `src/${layer} may import only from its own layer or the ones below it (docs/ARCHITECTURE.md, "Layers").`,
      from: { path: `^src/${layer}(/|$)` },
      to: { path: above(i) },
    })),
    {
      name: 'src-not-to-adapters',
      severity: 'error',
      comment: 'Ports in src, adapters outside: src never imports adapters/.',
      from: { path: '^src/' },
      to: { path: '^adapters/' },
    },
    {
      name: 'adapters-use-the-port-only',
      severity: 'error',
      comment: 'An adapter depends on the transport port (and public exports), never on the core.',
      from: { path: '^adapters/' },
      to: { path: '^src/', pathNot: '^src/(transport/transport|index)\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '(^dist/|\\.test\\.ts$)' },
  },
};
