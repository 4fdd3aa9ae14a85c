import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';

import { VariableQueryEditor, definitionOf } from './VariableQueryEditor';

describe('VariableQueryEditor', () => {
  it('switches to dimension values with a default dimension', () => {
    const onChange = vi.fn();
    render(<VariableQueryEditor query={{ kind: 'rooms' }} onChange={onChange} />);
    fireEvent.click(screen.getByText('dimension values'));
    expect(onChange).toHaveBeenCalledWith({ kind: 'values', dimension: 'client' }, 'values of client');
  });

  it('drops dimension and room for the room list', () => {
    const onChange = vi.fn();
    render(<VariableQueryEditor query={{ kind: 'values', dimension: 'country', room: '$room' }} onChange={onChange} />);
    fireEvent.click(screen.getByText('rooms'));
    expect(onChange).toHaveBeenCalledWith({ kind: 'rooms' }, 'rooms');
  });

  it('describes its query', () => {
    expect(definitionOf({ kind: 'values', dimension: 'region', room: 'r1' })).toBe('values of region in r1');
  });
});
