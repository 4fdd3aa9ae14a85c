import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

/** Query types; pkg/plugin/query.go QueryTypes is the authority. */
export type QueryType = 'concurrency' | 'activity' | 'joinFailureRate' | 'errorsByCode' | 'joinLatency' | 'alertState' | 'spaces' | 'sql';

export const queryTypes: Array<{ value: QueryType; label: string; description: string }> = [
  { value: 'concurrency', label: 'Concurrency', description: 'Concurrent listeners per room (peak or last per interval)' },
  { value: 'activity', label: 'Joins and leaves', description: 'Joins, leaves and errors per interval' },
  { value: 'joinFailureRate', label: 'Join-failure rate', description: 'Technical join failures per attempt or per user' },
  { value: 'errorsByCode', label: 'Errors by code', description: 'Join errors per interval and code' },
  { value: 'joinLatency', label: 'Join latency', description: 'p50 / p95 / p99 of join_ms' },
  { value: 'alertState', label: 'Page state', description: 'The join-failure page per room, minute by minute (what the alert rule thresholds)' },
  { value: 'spaces', label: 'Rooms table', description: 'One row of figures per room' },
  { value: 'sql', label: 'SQL', description: 'Raw read-only SQL with macros' },
];

/** Group-by values each query type accepts (pkg/plugin/query.go groupByAllowed). */
export const groupByAllowed: Record<QueryType, string[]> = {
  concurrency: ['', 'room'],
  activity: ['', 'room'],
  joinFailureRate: ['', 'room', 'client', 'region', 'country', 'app_version', 'code'],
  errorsByCode: ['', 'room'],
  joinLatency: ['', 'room', 'client', 'region', 'country', 'app_version'],
  alertState: [''],
  spaces: [''],
  sql: [''],
};

export type Percentile = 'p50' | 'p95' | 'p99';

/** The pages alertState evaluates (sql/README.md, Paging rules). */
export type AlertRule = 'joinFailureRate' | 'retryAmplification' | 'cclDrop';

export const alertRules: Array<{ label: string; value: AlertRule }> = [
  { label: 'join failures > 5 %', value: 'joinFailureRate' },
  { label: 'retries > 2x', value: 'retryAmplification' },
  { label: 'listeners -30 %', value: 'cclDrop' },
];

export interface SpacePulseQuery extends DataQuery {
  queryType?: QueryType;
  rooms?: string[];
  groupBy?: string;
  reduce?: 'peak' | 'last';
  rate?: 'perAttempt' | 'perUser';
  /** alertState's page (pkg/plugin/alertstate.go alertRules). */
  rule?: AlertRule;
  includeCounts?: boolean;
  technicalOnly?: boolean;
  percentiles?: Percentile[];
  intervalSeconds?: number;
  completeBuckets?: number;
  live?: boolean;
  rawSql?: string;
  format?: 'table' | 'timeseries';
}

export const defaultQuery: Partial<SpacePulseQuery> = {
  queryType: 'concurrency',
  reduce: 'peak',
};

export interface SpacePulseOptions extends DataSourceJsonData {
  addr?: string;
  database?: string;
  user?: string;
  /** Connect over TLS (the server's secure native port, usually 9440). */
  tls?: boolean;
  /** Do not verify the server's certificate (self-signed test servers only). */
  tlsSkipVerify?: boolean;
  /** Host name to verify the certificate against, when it is not the address's host. */
  tlsServerName?: string;
  timeoutSeconds?: number;
  rowLimit?: number;
  streamDelaySeconds?: number;
}

export interface SpacePulseSecureOptions {
  password?: string;
  /** PEM of the CA that signed the server's certificate (as Grafana's own datasources name it). */
  tlsCACert?: string;
}

/** A dashboard variable query (pkg/plugin/variable.go). */
export interface VariableQuery {
  kind: 'rooms' | 'values';
  dimension?: string;
  room?: string;
  limit?: number;
}

export const dimensions = ['code', 'client', 'app_version', 'region', 'country'];

/** validateQuery mirrors the backend's checks the editor can make before a round trip. */
export function validateQuery(q: SpacePulseQuery): string | undefined {
  const type = q.queryType ?? 'concurrency';
  if (!groupByAllowed[type]) {
    return `unknown query type ${type}`;
  }
  if (!groupByAllowed[type].includes(q.groupBy ?? '')) {
    return `${type} cannot be grouped by ${q.groupBy}`;
  }
  if (type === 'sql' && !(q.rawSql ?? '').trim()) {
    return 'write a SELECT';
  }
  if (q.groupBy && q.groupBy !== 'room' && (q.rooms?.length ?? 0) > 1) {
    return `group by ${q.groupBy} works on one room at a time`;
  }
  if (type === 'joinFailureRate' && q.rate === 'perUser' && q.groupBy && q.groupBy !== 'room') {
    return 'the per-user rate cannot be grouped by a dimension';
  }
  return undefined;
}
