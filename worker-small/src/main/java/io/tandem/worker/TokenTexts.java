package io.tandem.worker;

import io.tandem.inference.TextTokenizer;
import java.util.Arrays;

/**
 * The text each generated token adds, decoded in the context of the tokens before it (so that
 * spacing and multi-token characters come out as the whole text would decode).
 */
final class TokenTexts {
  private final TextTokenizer tokenizer;
  private int[] ids = new int[16];
  private int length;
  /** Tokens before prefixOffset are settled; text up to readOffset has been emitted. */
  private int prefixOffset;
  private int readOffset;

  TokenTexts(TextTokenizer tokenizer) {
    this.tokenizer = tokenizer;
  }

  void prime(int[] context) {
    length = 0;
    push(context);
    prefixOffset = 0;
    readOffset = length;
  }

  /** The text that token {@code id} completes (empty while a character is still incomplete). */
  String next(int id) {
    push(new int[] {id});
    String prefix = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, readOffset));
    String full = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, length));
    if (full.length() > prefix.length() && !full.endsWith("\uFFFD") && full.startsWith(prefix)) {
      String out = full.substring(prefix.length());
      prefixOffset = readOffset;
      readOffset = length;
      return out;
    }
    if (!full.endsWith("\uFFFD") && !full.startsWith(prefix)) {
      // The decoder rewrote earlier text (rare); emit what is new at the end.
      prefixOffset = readOffset;
      readOffset = length;
      return full.length() > prefix.length() ? full.substring(prefix.length()) : "";
    }
    return "";
  }

  private void push(int[] more) {
    if (length + more.length > ids.length) ids = Arrays.copyOf(ids, Math.max(ids.length * 2, length + more.length));
    System.arraycopy(more, 0, ids, length, more.length);
    length += more.length;
  }
}
