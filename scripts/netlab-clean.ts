/**
 * `node --import tsx scripts/netlab-clean.ts [--all]`: removes the network lab's namespaces
 * (and temp directories) that runs which no longer exist left behind, for instance after the
 * machine killed a whole test run. With --all, also those of runs still going. Needs root.
 */
import { cleanLeftovers, labNamespaces } from '../tests/support/topology.ts';

const all = process.argv.includes('--all');
const removed = cleanLeftovers({ all });
console.log(removed.length > 0 ? `Removed: ${removed.join(', ')}` : 'Nothing left behind.');
const remaining = labNamespaces();
if (remaining.length > 0) console.log(`Still there (runs in progress; --all removes them too): ${remaining.join(' ')}`);
