import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';

import { ConfigEditor } from './ConfigEditor';

function options(jsonData: any = {}, secureJsonFields: any = {}) {
  return { id: 1, uid: 'ds', name: 'SpacePulse', type: 'spacepulse-spacepulse-datasource', jsonData, secureJsonFields, secureJsonData: {} } as any;
}

describe('ConfigEditor', () => {
  it('writes the address into jsonData', () => {
    const onOptionsChange = vi.fn();
    render(<ConfigEditor options={options()} onOptionsChange={onOptionsChange} />);
    fireEvent.change(document.getElementById('spacepulse-addr')!, { target: { value: 'ch:9000' } });
    expect(onOptionsChange).toHaveBeenCalledWith(expect.objectContaining({ jsonData: expect.objectContaining({ addr: 'ch:9000' }) }));
  });

  it('keeps the password in secureJsonData, never jsonData', () => {
    const onOptionsChange = vi.fn();
    render(<ConfigEditor options={options()} onOptionsChange={onOptionsChange} />);
    fireEvent.change(document.getElementById('spacepulse-password')!, { target: { value: 's3cret' } });
    const next = onOptionsChange.mock.calls[0][0];
    expect(next.secureJsonData.password).toBe('s3cret');
    expect(JSON.stringify(next.jsonData)).not.toContain('s3cret');
  });

  it('shows a configured password as configured and numbers as numbers', () => {
    const onOptionsChange = vi.fn();
    render(<ConfigEditor options={options({ tls: true }, { password: true })} onOptionsChange={onOptionsChange} />);
    expect(screen.getByText('Skip certificate verification')).toBeTruthy();
    fireEvent.change(document.getElementById('spacepulse-row-limit')!, { target: { value: '5000' } });
    expect(onOptionsChange.mock.calls[0][0].jsonData.rowLimit).toBe(5000);
  });
});
