import { describe, expect, it } from 'vitest';
import { newVncPassword, VNC_PASSWORD_LENGTH, vncAuthResponse } from './vnc-auth.js';

describe('the VncAuth answer', () => {
  it('is DES-ECB of the challenge under the bit-reversed password (checked against openssl\'s legacy DES)', async () => {
    // printf 0123456789abcdef | openssl enc -des-ecb -provider legacy -provider default -K <"abcdefgh" bit-reversed> -nopad
    expect((await vncAuthResponse('abcdefgh', Buffer.from('0123456789abcdef'))).toString('hex')).toBe('2ff8414eb7e97229e72ea9d26afafeb0');
  });

  it('differs for another password (positive control for the vector above)', async () => {
    expect((await vncAuthResponse('abcdefgi', Buffer.from('0123456789abcdef'))).toString('hex')).not.toBe('2ff8414eb7e97229e72ea9d26afafeb0');
  });
});

describe('a new VNC password', () => {
  it('is 8 characters a shell and tigervncpasswd take as they are, new each time', () => {
    const a = newVncPassword();
    const b = newVncPassword();
    expect(a).toMatch(new RegExp(`^[A-Za-z0-9_-]{${VNC_PASSWORD_LENGTH}}$`));
    expect(a).not.toBe(b);
  });
});
