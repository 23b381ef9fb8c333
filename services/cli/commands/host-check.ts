import { loadConfig } from '../../contracts/config.js';
import { createLogger } from '../../contracts/logger.js';
import { JSON_OPTION, printJson, type Command } from '../command.js';

export const hostCheckCommand: Command = {
  path: ['host', 'check'],
  summary: 'Check that this host can run forkd guests: libvirt, the accelerator, a probe boot',
  usage: 'forkd host check [--json] [--force]',
  options: { ...JSON_OPTION, force: { type: 'boolean' } },
  async run({ values }) {
    const config = loadConfig();
    const log = createLogger(config.logLevel === 'debug' ? 'debug' : 'warn', { svc: 'host-check' });
    const { openLibvirt, libvirtCall } = await import('../../hostd/libvirt.js');
    const { detectAccel, checkGuestBoots, hostCheckCacheValid, recordHostCheck } = await import('../../hostd/accel.js');
    const conn = await openLibvirt(config.libvirtUri);
    try {
      const [lib, hyp] = await libvirtCall('reading versions', () => Promise.all([conn.getLibVersion(), conn.getVersion()]));
      const verdict = await detectAccel({ conn, config, log, qemuVersion: hyp.string });
      let bootMs: number | null = null;
      const cached = !values.force && (await hostCheckCacheValid(config, verdict.accel, hyp.string));
      if (!cached) {
        if (!values.json) process.stderr.write(`forkd: booting a probe guest with ${verdict.accel} to check this host…\n`);
        bootMs = verdict.probeMs ?? (await checkGuestBoots(conn, config, verdict.accel));
        await recordHostCheck(config, verdict.accel, hyp.string, bootMs);
      }
      const result = { ok: true, libvirtVersion: lib.string, qemuVersion: hyp.string, accel: verdict.accel, accelReason: verdict.reason, probeBootMs: bootMs, cached };
      if (values.json) printJson(result);
      else process.stderr.write(`forkd: host ok — libvirt ${lib.string}, QEMU ${hyp.string}, accelerator ${verdict.accel} (${verdict.reason})${bootMs === null ? ', guest boot checked earlier' : `, probe guest booted in ${bootMs} ms`}\n`);
      return 0;
    } finally {
      await conn.close();
    }
  },
};
