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

  it('hides the TLS options while TLS is off', () => {
    render(<ConfigEditor options={options()} onOptionsChange={vi.fn()} />);
    expect(document.getElementById('spacepulse-tls-ca')).toBeNull();
    expect(document.getElementById('spacepulse-tls-server-name')).toBeNull();
    expect(screen.queryByText('Skip certificate verification')).toBeNull();
  });

  it('keeps the CA certificate in secureJsonData and the server name in jsonData', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const onOptionsChange = vi.fn();
    render(<ConfigEditor options={options({ tls: true })} onOptionsChange={onOptionsChange} />);
    fireEvent.change(document.getElementById('spacepulse-tls-ca')!, { target: { value: pem } });
    const next = onOptionsChange.mock.calls[0][0];
    expect(next.secureJsonData.tlsCACert).toBe(pem);
    expect(JSON.stringify(next.jsonData)).not.toContain('BEGIN CERTIFICATE');
    fireEvent.change(document.getElementById('spacepulse-tls-server-name')!, { target: { value: 'clickhouse.example.com' } });
    expect(onOptionsChange.mock.calls[1][0].jsonData).toEqual({ tls: true, tlsServerName: 'clickhouse.example.com' });
  });

  it('shows a stored CA certificate as configured and resets it', () => {
    const onOptionsChange = vi.fn();
    render(<ConfigEditor options={options({ tls: true }, { tlsCACert: true })} onOptionsChange={onOptionsChange} />);
    const ca = document.getElementById('spacepulse-tls-ca') as HTMLTextAreaElement;
    expect(ca.disabled).toBe(true); // the stored PEM is never sent back, only that there is one
    expect(ca.value).toBe('configured');
    fireEvent.click(screen.getByRole('button', { name: 'Reset' }));
    const next = onOptionsChange.mock.calls[0][0];
    expect(next.secureJsonFields.tlsCACert).toBe(false);
    expect(next.secureJsonData.tlsCACert).toBe('');
  });
});
