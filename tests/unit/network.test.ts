import { describe, expect, it } from 'vitest';
import { networkOf } from '../../shared/network.ts';

describe('the network of a client address', () => {
  it.each([
    ['203.0.113.7', '203.0.113.0/24'],
    ['203.0.113.250', '203.0.113.0/24'],
    ['198.51.100.20', '198.51.100.0/24'],
    ['::ffff:203.0.113.7', '203.0.113.0/24'],
    ['2001:db8:1234:5678::1', '2001:db8:1234:0:0:0:0:0/48'],
    ['2001:db8:1234:ffff:1:2:3:4', '2001:db8:1234:0:0:0:0:0/48'],
    ['2001:0db8:1234::', '2001:db8:1234:0:0:0:0:0/48'],
    // Private, loopback, link-local, carrier-grade NAT: the tracker's own LAN, no network.
    ['10.1.2.3', null],
    ['172.16.0.1', null],
    ['172.31.255.255', null],
    ['192.168.1.10', null],
    ['127.0.0.1', null],
    ['169.254.1.1', null],
    ['100.64.0.1', null],
    ['::1', null],
    ['fe80::1%eth0', null],
    ['fd12:3456::1', null],
    ['::ffff:192.168.1.10', null],
    // Not an address at all.
    ['unknown', null],
    ['1.2.3', null],
    ['1.2.3.256', null],
    ['2001:db8::1::2', null],
    ['2001:db8:zzzz::1', null],
  ])('%s → %s', (address, network) => {
    expect(networkOf(address)).toBe(network);
  });

  it('takes other prefix lengths', () => {
    expect(networkOf('203.0.113.77', { v4: 16, v6: 32 })).toBe('203.0.0.0/16');
    expect(networkOf('2001:db8:1234::1', { v4: 24, v6: 32 })).toBe('2001:db8:0:0:0:0:0:0/32');
    expect(networkOf('203.0.113.77', { v4: 32, v6: 128 })).toBe('203.0.113.77/32');
  });
});
