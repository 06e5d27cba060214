// What a run keeps of an email's result when its attempt could not be
// recorded as it was (task.ts runActions): what its delivery events need.
import { describe, expect, it } from 'vitest';
import { essentialResult } from '../../src/actions/result.js';

describe('essentialResult', () => {
  it('keeps the message id and the contact the email went to, nothing else', () => {
    const contact = '01a251eb-6cc4-7179-b65a-5037afd0c11a';
    expect(
      essentialResult({
        provider: 'resend',
        message_id: 'em_1',
        response: '250 OK',
        recipient_contact_id: contact,
      }),
    ).toEqual({ message_id: 'em_1', recipient_contact_id: contact });
    // No contact had the address: that is kept too, so the events do not look it up later.
    expect(essentialResult({ message_id: 'em_2', recipient_contact_id: null })).toEqual({
      message_id: 'em_2',
      recipient_contact_id: null,
    });
    expect(essentialResult({ message_id: 'em_3' })).toEqual({ message_id: 'em_3' });
    expect(essentialResult({ status: 200 })).toBeNull();
    expect(essentialResult(null)).toBeNull();
  });
});
