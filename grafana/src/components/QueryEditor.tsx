import React, { useEffect, useState } from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, InlineSwitch, Input, MultiSelect, RadioButtonGroup, Select, TextArea, Alert } from '@grafana/ui';

import { DataSource } from '../datasource';
import { AlertRule, Percentile, QueryType, SpacePulseOptions, SpacePulseQuery, alertRules, groupByAllowed, queryTypes, validateQuery } from '../types';

export type Props = QueryEditorProps<DataSource, SpacePulseQuery, SpacePulseOptions>;

const groupByLabels: Record<string, string> = {
  '': 'none',
  room: 'room',
  client: 'client',
  region: 'region',
  country: 'country',
  app_version: 'app version',
  code: 'error code',
};

const percentileOptions: Array<SelectableValue<Percentile>> = [
  { label: 'p50', value: 'p50' },
  { label: 'p95', value: 'p95' },
  { label: 'p99', value: 'p99' },
];

export const macrosHelp =
  'Macros: $__timeFilter(column), $__fromTime, $__toTime, $__interval_s, $__interval_ms. Runs read-only, bounded by the datasource timeout and row limit.';

export function QueryEditor({ query, onChange, onRunQuery, datasource, range }: Props) {
  const type: QueryType = query.queryType ?? 'concurrency';
  const [rooms, setRooms] = useState<Array<SelectableValue<string>>>([]);

  useEffect(() => {
    let live = true;
    datasource
      .rooms(range?.from.valueOf(), range?.to.valueOf())
      .then((names) => live && setRooms(names.map((r) => ({ label: r, value: r }))))
      .catch(() => live && setRooms([]));
    return () => {
      live = false;
    };
  }, [datasource, range]);

  const change = (patch: Partial<SpacePulseQuery>, run = true) => {
    onChange({ ...query, ...patch });
    if (run) {
      onRunQuery();
    }
  };
  const problem = validateQuery(query);
  const roomOptions = [{ label: '$room', value: '$room' }, ...rooms];

  return (
    <div data-testid="spacepulse-query-editor">
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={14} tooltip="What to compute; every figure comes from the sql/ queries of the warehouse">
          <Select
            inputId="spacepulse-query-type"
            width={26}
            options={queryTypes.map((t) => ({ label: t.label, value: t.value, description: t.description }))}
            value={type}
            onChange={(v) => change({ queryType: v.value, groupBy: '', reduce: v.value === 'concurrency' ? 'peak' : undefined, rate: v.value === 'joinFailureRate' ? 'perAttempt' : undefined, rule: undefined })}
          />
        </InlineField>
        {type !== 'sql' && (
          <InlineField label="Rooms" labelWidth={10} tooltip="Empty: every room with events in the time range">
            <MultiSelect
              inputId="spacepulse-rooms"
              width={40}
              allowCustomValue
              placeholder="all rooms"
              options={roomOptions}
              value={(query.rooms ?? []).map((r) => ({ label: r, value: r }))}
              onChange={(vs) => change({ rooms: vs.map((v) => v.value!).filter(Boolean) })}
            />
          </InlineField>
        )}
      </InlineFieldRow>

      {groupByAllowed[type].length > 1 && (
        <InlineFieldRow>
          <InlineField label="Group by" labelWidth={14} tooltip="One series per value; only these dimensions are allowed">
            <RadioButtonGroup
              options={groupByAllowed[type].map((g) => ({ label: groupByLabels[g] ?? g, value: g }))}
              value={query.groupBy ?? ''}
              onChange={(v) => change({ groupBy: v })}
            />
          </InlineField>
        </InlineFieldRow>
      )}

      <InlineFieldRow>
        {type === 'concurrency' && (
          <>
            <InlineField label="Per interval" labelWidth={14} tooltip="Buckets wider than a second show their peak or their last value">
              <RadioButtonGroup
                options={[{ label: 'peak', value: 'peak' }, { label: 'last', value: 'last' }]}
                value={query.reduce ?? 'peak'}
                onChange={(v) => change({ reduce: v as 'peak' | 'last' })}
              />
            </InlineField>
            <InlineField label="Live" labelWidth={8} tooltip="Push new complete seconds over Grafana Live">
              <InlineSwitch value={!!query.live} onChange={(e) => change({ live: e.currentTarget.checked })} />
            </InlineField>
          </>
        )}
        {type === 'joinFailureRate' && (
          <>
            <InlineField label="Rate" labelWidth={14} tooltip="Technical errors only; under 25 attempts a bucket shows no data">
              <RadioButtonGroup
                options={[{ label: 'per attempt', value: 'perAttempt' }, { label: 'per user', value: 'perUser' }]}
                value={query.rate ?? 'perAttempt'}
                onChange={(v) => change({ rate: v as 'perAttempt' | 'perUser' })}
              />
            </InlineField>
            <InlineField label="Counts" labelWidth={10} tooltip="Also return attempts and failures">
              <InlineSwitch value={!!query.includeCounts} onChange={(e) => change({ includeCounts: e.currentTarget.checked })} />
            </InlineField>
          </>
        )}
        {type === 'alertState' && (
          <InlineField label="Page" labelWidth={10} tooltip="The paging rule (sql/queries/alert_state.sql), judged on complete minutes only">
            <RadioButtonGroup
              options={alertRules}
              value={query.rule ?? 'joinFailureRate'}
              onChange={(v) => change({ rule: v as AlertRule })}
            />
          </InlineField>
        )}
        {type === 'errorsByCode' && (
          <InlineField label="Technical only" labelWidth={16} tooltip="Leave out space_ended, auth and geo_blocked">
            <InlineSwitch value={!!query.technicalOnly} onChange={(e) => change({ technicalOnly: e.currentTarget.checked })} />
          </InlineField>
        )}
        {type === 'joinLatency' && (
          <InlineField label="Percentiles" labelWidth={14}>
            <MultiSelect
              width={30}
              options={percentileOptions}
              value={query.percentiles ?? ['p50', 'p95', 'p99']}
              onChange={(vs) => change({ percentiles: vs.map((v) => v.value as Percentile) })}
            />
          </InlineField>
        )}
        {type !== 'sql' && type !== 'spaces' && type !== 'alertState' && (
          <InlineField label="Interval (s)" labelWidth={14} tooltip="Bucket length; empty: the panel interval">
            <Input
              type="number"
              width={12}
              min={0}
              placeholder="auto"
              value={query.intervalSeconds ?? ''}
              onChange={(e) => change({ intervalSeconds: e.currentTarget.value === '' ? undefined : Number(e.currentTarget.value) }, false)}
              onBlur={onRunQuery}
            />
          </InlineField>
        )}
      </InlineFieldRow>

      {type === 'sql' && (
        <>
          <InlineFieldRow>
            <InlineField label="Format" labelWidth={14}>
              <RadioButtonGroup
                options={[{ label: 'table', value: 'table' }, { label: 'time series', value: 'timeseries' }]}
                value={query.format ?? 'table'}
                onChange={(v) => change({ format: v as 'table' | 'timeseries' })}
              />
            </InlineField>
          </InlineFieldRow>
          <InlineField label="SQL" labelWidth={14} grow tooltip={macrosHelp}>
            <TextArea
              data-testid="spacepulse-raw-sql"
              rows={6}
              style={{ fontFamily: 'monospace' }}
              placeholder="SELECT ... FROM events WHERE $__timeFilter(ts)"
              value={query.rawSql ?? ''}
              onChange={(e) => change({ rawSql: e.currentTarget.value }, false)}
              onBlur={onRunQuery}
            />
          </InlineField>
        </>
      )}
      {problem && (
        <Alert severity="warning" title="Query not run">
          {problem}
        </Alert>
      )}
    </div>
  );
}
