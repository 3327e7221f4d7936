import { splitInlineCode } from '../lib/inline-code.js';

/** Renders a message, with the parts written between backticks as code. */
export function MessageText({ text }: { text: string }) {
  return (
    <>
      {splitInlineCode(text).map((part, index) =>
        part.code ? <code key={index}>{part.text}</code> : part.text,
      )}
    </>
  );
}
