// One lifecycle per resource: states, legal moves, and what hostd's reports
// mean for the database. See README.md.
export { defineLifecycle, IllegalTransitionError, type Lifecycle } from './machine.js';
export * from './vm.js';
export * from './container.js';
export * from './template.js';
export * from './operation.js';
