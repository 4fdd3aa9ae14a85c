import React from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { Field, FieldSet, Input, SecretInput, SecretTextArea, Switch } from '@grafana/ui';

import { SpacePulseOptions, SpacePulseSecureOptions } from '../types';

export type Props = DataSourcePluginOptionsEditorProps<SpacePulseOptions, SpacePulseSecureOptions>;

export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields } = options;
  const secure = (options.secureJsonData ?? {}) as SpacePulseSecureOptions;
  const set = (patch: Partial<SpacePulseOptions>) => onOptionsChange({ ...options, jsonData: { ...jsonData, ...patch } });
  const num = (v: string) => (v === '' ? undefined : Number(v));
  const setSecret = (key: keyof SpacePulseSecureOptions, value: string) =>
    onOptionsChange({ ...options, secureJsonData: { ...secure, [key]: value } });
  const resetSecret = (key: keyof SpacePulseSecureOptions) =>
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureJsonFields, [key]: false },
      secureJsonData: { ...secure, [key]: '' },
    });

  return (
    <div data-testid="spacepulse-config-editor">
      <FieldSet label="ClickHouse">
        <Field label="Address" description="Native protocol host:port" required>
          <Input id="spacepulse-addr" width={40} placeholder="127.0.0.1:9000" value={jsonData.addr ?? ''} onChange={(e) => set({ addr: e.currentTarget.value })} />
        </Field>
        <Field label="Database" description="Where spacepulse-migrate created the tables">
          <Input id="spacepulse-database" width={40} placeholder="spacepulse" value={jsonData.database ?? ''} onChange={(e) => set({ database: e.currentTarget.value })} />
        </Field>
        <Field label="User">
          <Input id="spacepulse-user" width={40} placeholder="default" value={jsonData.user ?? ''} onChange={(e) => set({ user: e.currentTarget.value })} />
        </Field>
        <Field label="Password" description="Stored encrypted (secureJsonData)">
          <SecretInput
            id="spacepulse-password"
            width={40}
            isConfigured={!!secureJsonFields?.password}
            value={secure.password ?? ''}
            onChange={(e) => setSecret('password', e.currentTarget.value)}
            onReset={() => resetSecret('password')}
          />
        </Field>
        <Field label="TLS" description="Connect over TLS (the server's secure native port, usually 9440)">
          <Switch id="spacepulse-tls" value={!!jsonData.tls} onChange={(e) => set({ tls: e.currentTarget.checked })} />
        </Field>
        {jsonData.tls && (
          <>
            <Field
              label="CA certificate"
              description="PEM of the CA that signed the server's certificate; empty: the system's CAs. Stored encrypted (secureJsonData)"
            >
              <SecretTextArea
                id="spacepulse-tls-ca"
                cols={64}
                rows={6}
                placeholder="-----BEGIN CERTIFICATE-----"
                isConfigured={!!secureJsonFields?.tlsCACert}
                value={secure.tlsCACert ?? ''}
                onChange={(e) => setSecret('tlsCACert', e.currentTarget.value)}
                onReset={() => resetSecret('tlsCACert')}
              />
            </Field>
            <Field label="Server name" description="Host name the certificate is for, when it is not the address's host">
              <Input
                id="spacepulse-tls-server-name"
                width={40}
                placeholder="clickhouse.example.com"
                value={jsonData.tlsServerName ?? ''}
                onChange={(e) => set({ tlsServerName: e.currentTarget.value })}
              />
            </Field>
            <Field label="Skip certificate verification" description="Only for self-signed test servers">
              <Switch id="spacepulse-tls-skip" value={!!jsonData.tlsSkipVerify} onChange={(e) => set({ tlsSkipVerify: e.currentTarget.checked })} />
            </Field>
          </>
        )}
      </FieldSet>
      <FieldSet label="Limits">
        <Field label="Query timeout (seconds)" description="Every query, typed or raw; default 30">
          <Input id="spacepulse-timeout" type="number" width={20} min={1} max={3600} placeholder="30" value={jsonData.timeoutSeconds ?? ''} onChange={(e) => set({ timeoutSeconds: num(e.currentTarget.value) })} />
        </Field>
        <Field label="Row limit" description="Most rows one query may return; default 1000000">
          <Input id="spacepulse-row-limit" type="number" width={20} min={1} placeholder="1000000" value={jsonData.rowLimit ?? ''} onChange={(e) => set({ rowLimit: num(e.currentTarget.value) })} />
        </Field>
        <Field label="Live delay (seconds)" description="How long after a second ends it is streamed as complete; default 2">
          <Input id="spacepulse-stream-delay" type="number" width={20} min={0} max={600} placeholder="2" value={jsonData.streamDelaySeconds ?? ''} onChange={(e) => set({ streamDelaySeconds: num(e.currentTarget.value) })} />
        </Field>
      </FieldSet>
    </div>
  );
}
