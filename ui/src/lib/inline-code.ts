/** A run of message text, marked when it was written between backticks. */
export interface TextPart {
  text: string;
  code: boolean;
}

/**
 * Splits daemon and dashboard messages at backticks, so a command such as
 * `bastionless start` renders as code instead of showing the backticks. An unpaired
 * backtick stays in the text.
 */
export function splitInlineCode(message: string): TextPart[] {
  const parts: TextPart[] = [];
  const pattern = /`([^`\n]+)`/g;
  let last = 0;
  for (const match of message.matchAll(pattern)) {
    if (match.index > last) {
      parts.push({ text: message.slice(last, match.index), code: false });
    }
    parts.push({ text: match[1]!, code: true });
    last = match.index + match[0].length;
  }
  if (last < message.length) {
    parts.push({ text: message.slice(last), code: false });
  }
  return parts;
}
