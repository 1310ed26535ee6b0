import { afterEach, describe, expect, it } from 'vitest';
import { mergeReport, splitSections, wholeNumberEnv } from '../../bench/report.ts';

const generated = '# Benchmarks\n\nintro\n\n## Latest run\n\nnew table\n\n## What limits throughput here\n\nnew analysis\n';
const previous = [
  '# Benchmarks\n\nold intro\n',
  '## Latest run\n\nold table\n',
  '## Check after a change\n\nwritten by hand\n\n### detail\n\nkept with its section\n',
  '## What limits throughput here\n\nold analysis\n',
  '## Separate networks\n\nold networks\n',
  '## Many trackers\n\nold trackers\n',
].join('\n');

describe('the report a full benchmark run writes', () => {
  it('splits on level-two headings only, each section with its subsections', () => {
    expect(splitSections(previous).map((section) => section.heading)).toEqual([
      '## Latest run',
      '## Check after a change',
      '## What limits throughput here',
      '## Separate networks',
      '## Many trackers',
    ]);
    expect(splitSections(previous)[1]!.text).toBe('## Check after a change\n\nwritten by hand\n\n### detail\n\nkept with its section');
  });

  it('replaces its own sections, keeps hand-written and other benchmarks’ sections in their order', () => {
    const merged = mergeReport(generated, previous, { '## Separate networks': undefined, '## Fragments': undefined });
    expect(merged).toBe(
      '# Benchmarks\n\nintro\n\n## Latest run\n\nnew table\n\n## What limits throughput here\n\nnew analysis\n\n' +
        '## Check after a change\n\nwritten by hand\n\n### detail\n\nkept with its section\n\n' +
        '## Separate networks\n\nold networks\n\n## Many trackers\n\nold trackers\n',
    );
    expect(merged).not.toContain('old table');
    expect(merged).not.toContain('old analysis');
  });

  it('puts a section measured in this run in place of the old one, or last when there was none', () => {
    const merged = mergeReport(generated, previous, { '## Separate networks': '## Separate networks\n\nnew networks', '## Fragments': '## Fragments\n\nnew fragments' });
    expect(merged).toContain('## Separate networks\n\nnew networks\n\n## Many trackers');
    expect(merged).not.toContain('old networks');
    expect(merged.trimEnd().endsWith('## Fragments\n\nnew fragments')).toBe(true);
  });

  it('writes only its own sections when there was no report', () => {
    expect(mergeReport(generated, '', {})).toBe(`${generated.trimEnd()}\n`);
  });
});

describe('a bench switch that must be a whole number', () => {
  const NAME = 'PEERCLOUD_TEST_WHOLE_NUMBER';
  afterEach(() => delete process.env[NAME]);

  it('takes its default when unset or empty, and the number when one is given', () => {
    expect(wholeNumberEnv(NAME, 7)).toBe(7);
    process.env[NAME] = '';
    expect(wholeNumberEnv(NAME, 7)).toBe(7);
    process.env[NAME] = '12';
    expect(wholeNumberEnv(NAME, 7)).toBe(12);
  });

  it.each(['1O', '2.5', '0', '-3', 'many'])('stops on %j with the switch named', (text) => {
    process.env[NAME] = text;
    expect(() => wholeNumberEnv(NAME, 7)).toThrow(`${NAME} must be a whole number of at least 1 (got "${text}")`);
  });
});
