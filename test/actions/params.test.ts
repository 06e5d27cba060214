// An email's recipient is one mailbox, read as nodemailer reads an address
// field (SMTP delivers by that reading): a list or a group is refused with
// the addresses it names, and the mailbox handed to a provider reads back as
// that one mailbox whatever its display name holds.
import addressparser from 'nodemailer/lib/addressparser';
import { describe, expect, it } from 'vitest';
import { formatMailbox, isEmailAddress, mailboxOf } from '../../src/actions/params.js';

describe('mailboxOf', () => {
  it.each([
    ['ada@example.com', { address: 'ada@example.com', name: '' }],
    ['<ada@example.com>', { address: 'ada@example.com', name: '' }],
    ['Ada <ada@example.com>', { address: 'ada@example.com', name: 'Ada' }],
    ['"Doe, John" <john@example.com>', { address: 'john@example.com', name: 'Doe, John' }],
    ['Ada\r\n Lovelace <ada@example.com>', { address: 'ada@example.com', name: 'Ada Lovelace' }],
  ])('reads %j as one mailbox', (value, mailbox) => {
    expect(mailboxOf(value)).toEqual(mailbox);
    expect(isEmailAddress(value)).toBe(true);
  });

  it.each([
    ['victim@x.com, <ada@x.com>', 'names 2 recipients (victim@x.com, ada@x.com)'],
    ['"x" <a@x.com>, <c@x.com>', 'names 2 recipients (a@x.com, c@x.com)'],
    ['a@x.com; b@x.com', 'names 2 recipients (a@x.com, b@x.com)'],
    ['team: a@x.com, b@x.com;', 'names 2 recipients (a@x.com, b@x.com)'],
    ['team: a@x.com;', 'is a list'],
    ['a@x.com\r\nBcc: b@x.com', 'is a list'],
    ['Ada <ada@x.com>, Bob', 'is a list'],
  ])('refuses the list %j', (value, why) => {
    expect(mailboxOf(value)).toEqual({
      error: `${JSON.stringify(value)} ${why}: an email goes to exactly one address`,
    });
    expect(isEmailAddress(value)).toBe(false);
  });

  it.each(['ada', 'Ada Lovelace', 'a@x.com b@x.com', 'a@x.com (Ada)', 'contact.email', ''])(
    'refuses %j, which is no address',
    (value) => {
      expect(mailboxOf(value)).toEqual({
        error: `${JSON.stringify(value)} is not an email address`,
      });
    },
  );
});

describe('formatMailbox', () => {
  it.each([
    'Doe, John',
    'Eve <eve@evil.example>, victim@x.com',
    'a "quoted" \\ name',
    'ends with a backslash \\',
    'team: victim@x.com;',
    'Zoë',
  ])('gives %j a mailbox that reads back as itself alone', (name) => {
    const formatted = formatMailbox({ address: 'ada@example.com', name });
    expect(addressparser(formatted)).toEqual([{ address: 'ada@example.com', name }]);
    expect(mailboxOf(formatted)).toEqual({ address: 'ada@example.com', name });
  });

  it('leaves a bare address bare', () => {
    expect(formatMailbox({ address: 'ada@example.com', name: '' })).toBe('ada@example.com');
  });
});
