import React from 'react';
import { InlineField, InlineFieldRow, Input, RadioButtonGroup, Select } from '@grafana/ui';

import { VariableQuery, dimensions } from '../types';

export interface Props {
  query: VariableQuery;
  onChange: (query: VariableQuery, definition: string) => void;
}

export function definitionOf(q: VariableQuery): string {
  return q.kind === 'values' ? `values of ${q.dimension ?? 'client'}${q.room ? ` in ${q.room}` : ''}` : 'rooms';
}

export function VariableQueryEditor({ query, onChange }: Props) {
  const q: VariableQuery = { ...query, kind: query?.kind ?? 'rooms' };
  const change = (patch: Partial<VariableQuery>) => {
    const next = { ...q, ...patch };
    if (next.kind === 'rooms') {
      delete next.dimension;
      delete next.room;
    } else if (!next.dimension) {
      next.dimension = 'client';
    }
    onChange(next, definitionOf(next));
  };
  return (
    <div data-testid="spacepulse-variable-editor">
      <InlineFieldRow>
        <InlineField label="List" labelWidth={14}>
          <RadioButtonGroup
            options={[{ label: 'rooms', value: 'rooms' }, { label: 'dimension values', value: 'values' }]}
            value={q.kind}
            onChange={(v) => change({ kind: v as VariableQuery['kind'] })}
          />
        </InlineField>
      </InlineFieldRow>
      {q.kind === 'values' && (
        <InlineFieldRow>
          <InlineField label="Dimension" labelWidth={14}>
            <Select inputId="spacepulse-var-dimension" width={20} options={dimensions.map((d) => ({ label: d, value: d }))} value={q.dimension ?? 'client'} onChange={(v) => change({ dimension: v.value })} />
          </InlineField>
          <InlineField label="Room" labelWidth={10} tooltip="Empty: every room; may be $room">
            <Input width={24} placeholder="all rooms" value={q.room ?? ''} onChange={(e) => change({ room: e.currentTarget.value })} />
          </InlineField>
        </InlineFieldRow>
      )}
    </div>
  );
}
