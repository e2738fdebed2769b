// Child side of the IPC anchors: echo every message back to the parent; stop with it.
process.on('message', (m) => process.send(m));
process.on('disconnect', () => process.exit(0));
