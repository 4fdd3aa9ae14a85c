import { describe, expect, it } from 'vitest';
import { quoteSQLValues } from './sqlquote';

describe('quoteSQLValues', () => {
  it('quotes one value and escapes quotes and backslashes', () => {
    expect(quoteSQLValues('room-a')).toBe("'room-a'");
    expect(quoteSQLValues("o'brien")).toBe("'o\\'brien'");
    // The value Grafana's sqlstring turns into '\''' (a literal that never closes).
    expect(quoteSQLValues("\\'")).toBe("'\\\\\\''");
    expect(quoteSQLValues("x\\' OR 1=1 --")).toBe("'x\\\\\\' OR 1=1 --'");
  });
  it('joins several values for IN (...)', () => {
    expect(quoteSQLValues(['a', "b'c"])).toBe("'a','b\\'c'");
  });
});
