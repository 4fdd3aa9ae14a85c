import React from 'react';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';

import { QueryEditor } from './QueryEditor';
import { SpacePulseQuery, validateQuery } from '../types';

function fakeDatasource(rooms: string[] = ['room-a', 'room-b']) {
  return { rooms: vi.fn().mockResolvedValue(rooms) } as any;
}

function setup(query: Partial<SpacePulseQuery>) {
  const onChange = vi.fn();
  const onRunQuery = vi.fn();
  const ds = fakeDatasource();
  render(<QueryEditor query={{ refId: 'A', ...query } as SpacePulseQuery} onChange={onChange} onRunQuery={onRunQuery} datasource={ds} />);
  return { onChange, onRunQuery, ds };
}

describe('QueryEditor', () => {
  it('loads the room list from the datasource', async () => {
    const { ds } = setup({ queryType: 'concurrency' });
    await waitFor(() => expect(ds.rooms).toHaveBeenCalled());
    expect(screen.getByText('Query type')).toBeTruthy();
    expect(screen.getByText('Rooms')).toBeTruthy();
  });

  it('offers only the allowed group-by values for a query type', () => {
    setup({ queryType: 'concurrency' });
    expect(screen.getByText('room')).toBeTruthy();
    expect(screen.queryByText('client')).toBeNull();
  });

  it('offers dimensions for the join-failure rate and runs on change', () => {
    const { onChange, onRunQuery } = setup({ queryType: 'joinFailureRate', rooms: ['room-a'] });
    fireEvent.click(screen.getByText('client'));
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ groupBy: 'client' }));
    expect(onRunQuery).toHaveBeenCalled();
    fireEvent.click(screen.getByText('per user'));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ rate: 'perUser' }));
  });

  it('shows the SQL editor for raw SQL and runs on blur only', () => {
    const { onChange, onRunQuery } = setup({ queryType: 'sql', rawSql: '' });
    const area = screen.getByTestId('spacepulse-raw-sql');
    fireEvent.change(area, { target: { value: 'SELECT 1' } });
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ rawSql: 'SELECT 1' }));
    expect(onRunQuery).not.toHaveBeenCalled();
    fireEvent.blur(area);
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('warns about a query the backend would refuse', () => {
    setup({ queryType: 'joinFailureRate', groupBy: 'client', rooms: ['a', 'b'] });
    expect(screen.getByText(/one room at a time/)).toBeTruthy();
  });
});

describe('validateQuery', () => {
  const f = (q: Partial<SpacePulseQuery>, want: string | undefined) =>
    expect(validateQuery({ refId: 'A', ...q } as SpacePulseQuery)).toBe(want);
  it('mirrors the backend rules', () => {
    f({ queryType: 'concurrency' }, undefined);
    f({ queryType: 'concurrency', groupBy: 'client' }, 'concurrency cannot be grouped by client');
    f({ queryType: 'sql', rawSql: ' ' }, 'write a SELECT');
    f({ queryType: 'joinFailureRate', rate: 'perUser', groupBy: 'country' }, 'the per-user rate cannot be grouped by a dimension');
    f({ queryType: 'joinLatency', groupBy: 'code' }, 'joinLatency cannot be grouped by code');
  });
});
