// Reading single fields of ErrorResponse/NoticeResponse messages without decoding the rest.
import { describe, expect, it } from 'vitest';
import { errorResponse } from './backend-messages.js';
import { decodeField, decodeFields } from './decode.js';

describe('decodeField', () => {
  const message = errorResponse({ severity: 'WARNING', code: '57P01', message: 'terminating connection due to immediate shutdown command' });

  it('finds the field decodeFields would, wherever it sits', () => {
    const all = decodeFields(message);
    expect(decodeField(message, 'C')).toBe(all.C);
    expect(decodeField(message, 'S')).toBe(all.S);
  });

  it('is null for a field the message lacks', () => {
    expect(decodeField(message, 'D')).toBeNull();
  });
});
