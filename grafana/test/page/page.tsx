// A small page that renders the QueryEditor as a Grafana panel editor would, with a fake
// datasource (no Grafana here), for the headless Chromium screenshot test.
import React, { useState } from 'react';
import { createRoot } from 'react-dom/client';
import { createTheme, ThemeContext } from '@grafana/data';

import { QueryEditor } from '../../src/components/QueryEditor';
import { SpacePulseQuery } from '../../src/types';

const theme = createTheme({ colors: { mode: 'dark' } });
const datasource = { rooms: async () => ['1YqJDqWLyEMGV', 'desantis-a', 'desantis-b'] } as any;

function Editor({ initial, title }: { initial: SpacePulseQuery; title: string }) {
  const [query, setQuery] = useState(initial);
  return (
    <section style={{ marginBottom: 24 }}>
      <h4 style={{ margin: '0 0 8px' }}>{title}</h4>
      <QueryEditor query={query} onChange={setQuery} onRunQuery={() => {}} datasource={datasource} />
      <pre data-testid={`model-${initial.refId}`} style={{ fontSize: 11, opacity: 0.7, whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>{JSON.stringify(query)}</pre>
    </section>
  );
}

function Page() {
  return (
    <ThemeContext.Provider value={theme}>
      <div style={{ background: theme.colors.background.primary, color: theme.colors.text.primary, padding: 16, fontFamily: theme.typography.fontFamily, fontSize: 14, minHeight: '100vh' }}>
        <Editor title="A: join-failure rate by client" initial={{ refId: 'A', queryType: 'joinFailureRate', rooms: ['1YqJDqWLyEMGV'], groupBy: 'client', rate: 'perAttempt', intervalSeconds: 60 }} />
        <Editor title="B: concurrency" initial={{ refId: 'B', queryType: 'concurrency', rooms: ['$room'], reduce: 'peak', live: true }} />
        <Editor title="C: raw SQL" initial={{ refId: 'C', queryType: 'sql', format: 'timeseries', rawSql: "SELECT toDateTime(intDiv(toUInt32(ts), $__interval_s) * $__interval_s, 'UTC') AS time, count() AS events\nFROM events\nWHERE $__timeFilter(ts)\nGROUP BY time ORDER BY time" }} />
      </div>
    </ThemeContext.Provider>
  );
}

createRoot(document.getElementById('root')!).render(<Page />);
(window as any).__rendered = true;
