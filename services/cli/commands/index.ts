// Every CLI command, listed once. main.ts dispatches on `path`.
import type { Command } from '../command.js';
import { hostCheckCommand } from './host-check.js';
import { infoCommand } from './info.js';
import { hostdCommand, upCommand } from './up.js';

export const COMMANDS: readonly Command[] = [upCommand, hostdCommand, infoCommand, hostCheckCommand];
