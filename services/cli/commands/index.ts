// Every CLI command, listed once. main.ts dispatches on `path`.
import type { Command } from '../command.js';
import { benchForkCommand } from './bench.js';
import { inspectCommand, killCommand, logsCommand, psCommand, rmCommand, startCommand, stopCommand, waitCommand } from './containers.js';
import { DESKTOP_COMMANDS } from './desktops.js';
import { eventsCommand } from './events.js';
import { execCommand } from './exec.js';
import { hostCheckCommand } from './host-check.js';
import { imageBuildCommand, imageImportCommand, imageLsCommand, imageRmCommand } from './images.js';
import { infoCommand } from './info.js';
import { imagePullCommand, imagePushCommand, imageTagCommand, registryLoginCommand, registryLogoutCommand, registryLsCommand } from './registry.js';
import { networkCreateCommand, networkInspectCommand, networkLsCommand, networkRmCommand } from './networks.js';
import { podCreateCommand, podForkCommand, podInspectCommand, podLsCommand, podResizeCommand, podRmCommand, podSnapshotCommand } from './pods.js';
import { runCommand } from './run.js';
import { forkCommand, snapshotCommand } from './fork.js';
import { keyCreateCommand, keyLsCommand, keyRevokeCommand, tenantCreateCommand, tenantLsCommand } from './tenants.js';
import { templateCreateCommand, templateLsCommand, templatePoolCommand, templateRmCommand, templateShowCommand, vmForkCommand, vmLsCommand, vmRmCommand } from './templates.js';
import { hostdCommand, upCommand } from './up.js';
import { volumeCreateCommand, volumeInspectCommand, volumeLsCommand, volumeRmCommand } from './volumes.js';

export const COMMANDS: readonly Command[] = [
  upCommand, hostdCommand, infoCommand, hostCheckCommand,
  imageBuildCommand, imageImportCommand, imageLsCommand, imageRmCommand,
  imagePullCommand, imageTagCommand, imagePushCommand, registryLoginCommand, registryLogoutCommand, registryLsCommand,
  networkCreateCommand, networkLsCommand, networkInspectCommand, networkRmCommand,
  volumeCreateCommand, volumeLsCommand, volumeInspectCommand, volumeRmCommand,
  podCreateCommand, podLsCommand, podInspectCommand, podResizeCommand, podRmCommand, podForkCommand, podSnapshotCommand,
  runCommand, forkCommand, snapshotCommand, psCommand, inspectCommand, logsCommand, execCommand, waitCommand, startCommand, stopCommand, killCommand, rmCommand,
  templateCreateCommand, templateLsCommand, templateShowCommand, templatePoolCommand, templateRmCommand,
  vmForkCommand, vmLsCommand, vmRmCommand,
  tenantCreateCommand, tenantLsCommand, keyCreateCommand, keyLsCommand, keyRevokeCommand,
  eventsCommand,
  ...DESKTOP_COMMANDS,
  benchForkCommand,
];
