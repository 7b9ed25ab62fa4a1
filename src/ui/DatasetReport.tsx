// What training will make of the chosen dataset: statistics, warnings, bad rows with their line
// numbers, and the first rows with the masked (untrained) text greyed.

import type { InspectDatasetResult, PreviewRow } from '../protocol/messages.ts';

const FORMAT_LABEL: Record<InspectDatasetResult['format'], string> = {
  text: 'plain text',
  completion: 'prompt / completion',
  chat: 'chat messages',
  alpaca: 'Alpaca (instruction / output)',
  tokens: 'pre-tokenized',
};

function count(n: number): string {
  return n.toLocaleString('en');
}

function percent(part: number, whole: number): string {
  return `${((100 * part) / Math.max(1, whole)).toFixed(1)}%`;
}

interface DatasetReportProps {
  result: InspectDatasetResult;
  /** The settings said 'auto', so the format shown was detected. */
  detected: boolean;
  seqLen: number;
}

export function DatasetReport({ result: r, detected, seqLen }: DatasetReportProps) {
  const s = r.stats;
  const kept = s.trainedTokens + s.maskedTokens;
  return (
    <div className="dataset-report" data-testid="dataset-report" data-name={r.name}>
      <dl className="facts" data-testid="dataset-stats">
        <dt>Format</dt>
        <dd data-testid="dataset-format" data-format={r.format}>
          {FORMAT_LABEL[r.format]}
          {detected && <span className="muted"> (detected)</span>}
        </dd>
        <dt>Examples</dt>
        <dd data-testid="dataset-examples">{count(r.examples)}</dd>
        <dt>Rows: training · validation</dt>
        <dd data-testid="dataset-rows" data-train-rows={r.trainRows} data-val-rows={r.valRows}>
          {count(r.trainRows)} · {count(r.valRows)}
        </dd>
        <dt>Tokens per example: min · median · max</dt>
        <dd data-testid="dataset-lengths">
          {count(s.tokens.min)} · {count(s.tokens.median)} · {count(s.tokens.max)}
        </dd>
        <dt>Trained · masked tokens</dt>
        <dd data-testid="dataset-tokens" data-trained={s.trainedTokens} data-masked={s.maskedTokens}>
          {count(s.trainedTokens)} ({percent(s.trainedTokens, kept)}) · {count(s.maskedTokens)} ({percent(s.maskedTokens, kept)})
        </dd>
        <dt>Over max length ({count(seqLen)})</dt>
        <dd data-testid="dataset-over-max" className={s.overMaxLength > 0 ? 'warn-text' : undefined}>
          {s.overMaxLength === 0 ? 'none' : `${count(s.overMaxLength)} truncated, ${count(s.tokensLost)} tokens cut`}
        </dd>
      </dl>
      {r.warnings.length > 0 && (
        <ul className="dataset-warnings" aria-label="Dataset warnings">
          {r.warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      )}
      {r.skippedTotal > 0 && <BadRows result={r} />}
      {r.preview.length > 0 && (
        <section aria-label="Preview" className="dataset-preview">
          <h3>
            Preview <span className="muted">(greyed text is masked: no loss on it)</span>
          </h3>
          {r.preview.map((row, i) => (
            <Preview key={i} row={row} />
          ))}
        </section>
      )}
    </div>
  );
}

function BadRows({ result: r }: { result: InspectDatasetResult }) {
  const more = r.skippedTotal - r.skipped.length;
  return (
    <section role="region" aria-label="Bad rows" className="bad-rows" data-testid="bad-rows" data-count={r.skippedTotal}>
      <h3>
        Bad rows: {count(r.skippedTotal)} <span className="muted">(left out of training; fix them in the file)</span>
      </h3>
      <ul>
        {r.skipped.map((b, i) => (
          <li key={i} data-line={b.line}>
            line {b.line}: {b.message}
          </li>
        ))}
      </ul>
      {more > 0 && <p className="muted">and {count(more)} more</p>}
    </section>
  );
}

function Preview({ row }: { row: PreviewRow }) {
  return (
    <figure className="preview-row">
      <figcaption className="muted">
        {row.source} · {count(row.tokens)} tokens
      </figcaption>
      <pre className="output mono" data-testid="preview-row">
        {row.segments.map((seg, i) => (
          <span key={i} className={seg.trained ? 'seg' : 'seg seg--masked'} data-trained={seg.trained}>
            {seg.text}
          </span>
        ))}
      </pre>
    </figure>
  );
}
