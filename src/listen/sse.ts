/**
 * A Server-Sent Events parser (pure, incremental): feed it text as it arrives, it calls back
 * once per complete message. Follows the WHATWG rules Herald's stream needs: `event:`, `data:`
 * (several lines joined with \n), `id:`, comment lines (`:`) ignored, a blank line ends a
 * message, CRLF / LF / CR line ends.
 */

/** One message. `event` is "message" when the stream named none. */
export interface SseMessage {
  readonly event: string;
  readonly data: string;
  readonly id: string | null;
}

/** Makes a parser; push() takes any slice of the stream. */
export function createSseParser(onMessage: (message: SseMessage) => void): {push(text: string): void} {
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id: string | null = null;

  const line = (text: string) => {
    if (text === '') {
      if (data.length > 0) onMessage({event: event || 'message', data: data.join('\n'), id});
      event = '';
      data = [];
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id' && !value.includes('\u0000')) id = value;
  };

  return {
    push(text) {
      buffer += text;
      for (;;) {
        const match = /\r\n|\n|\r/.exec(buffer);
        // A lone \r at the very end may be the first half of \r\n: wait for more.
        if (!match || (match[0] === '\r' && match.index === buffer.length - 1)) return;
        line(buffer.slice(0, match.index));
        buffer = buffer.slice(match.index + match[0].length);
      }
    },
  };
}
