// The wire work of statement rewriting: a name replaced inside a message, and the command tags that forget every statement.
import { describe, expect, it } from 'vitest';
import { wire } from '../testing/wire.js';
import { forgetsAllStatements, replaceName } from './messages.js';

const bind = (statement: string) => wire().cstring('').cstring(statement).int16(0).int16(1).int32(1).bytes('7').int16(0).message('B');

describe('messages', () => {
  it('replaces a name inside a message and fixes its length', () => {
    const message = bind('short');
    const rewritten = replaceName(message, 0, message.length, 6, 11, Buffer.from('a_longer_name'));
    expect(rewritten.readUInt32BE(1)).toBe(rewritten.length - 1);
    expect(rewritten.toString('latin1')).toContain('\0a_longer_name\0');
  });

  it('recognises DISCARD ALL and DEALLOCATE ALL, nothing else', () => {
    const tag = (text: string) => wire().cstring(text).message('C');
    for (const [text, expected] of [['DISCARD ALL', true], ['DEALLOCATE ALL', true], ['DEALLOCATE', false], ['SELECT 1', false]] as const) {
      const message = tag(text);
      expect(forgetsAllStatements(message, 0, message.length)).toBe(expected);
    }
  });
});
