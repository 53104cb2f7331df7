package io.tandem.inference.text;

import io.tandem.inference.TextTokenizer;
import java.util.Arrays;

/**
 * Turns a stream of token ids into a stream of text, one token at a time, never emitting half a
 * character.
 *
 * <p>Byte-level BPE splits multi-byte characters (Chinese, emoji) across tokens, and the first
 * token alone decodes to U+FFFD. Decoders also change a token's text by context (SentencePiece
 * drops the leading space of the first token; WordLevel joins words with spaces). So, as Hugging
 * Face's {@code DecodeStream} and vLLM do, this decodes a short window of recent ids twice, with
 * and without the new ones, emits the difference, and holds it back while it ends in U+FFFD. The
 * concatenation of everything returned by {@link #next} and {@link #flush} equals
 * {@code decode(all ids)}. One decoder per sequence; not thread-safe.
 */
public final class IncrementalDecoder {

  private final TextTokenizer tokenizer;
  private int[] ids = new int[64];
  private int size;
  // ids[prefixOffset, readOffset) is the context already emitted; ids[readOffset, size) is pending.
  private int prefixOffset;
  private int readOffset;

  /** A decoder for a sequence that starts with no context. */
  public IncrementalDecoder(TextTokenizer tokenizer) {
    this.tokenizer = tokenizer;
  }

  /**
   * A decoder whose first tokens continue {@code context} (the prompt's last tokens): their text
   * is decoded as it reads after that context, e.g. keeping a SentencePiece word's leading space.
   */
  public IncrementalDecoder(TextTokenizer tokenizer, int[] context) {
    this(tokenizer);
    // A few tokens of context suffice to settle spacing and to complete a split character.
    int keep = Math.min(context.length, 6);
    for (int i = context.length - keep; i < context.length; i++) append(context[i]);
    prefixOffset = 0;
    readOffset = size;
  }

  /** Adds one token and returns the text it completes: possibly empty, never a broken character. */
  public String next(int id) {
    append(id);
    String prefix = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, readOffset));
    String full = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, size));
    if (full.length() > prefix.length() && !full.endsWith("\uFFFD")) {
      String delta = full.substring(prefix.length());
      prefixOffset = readOffset;
      readOffset = size;
      return delta;
    }
    return "";
  }

  /**
   * Returns the text still held back at the end of a sequence (bytes that never completed a
   * character decode as U+FFFD, as {@code decode} shows them), and starts a fresh window.
   */
  public String flush() {
    if (readOffset == size) return "";
    String prefix = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, readOffset));
    String full = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, size));
    prefixOffset = readOffset;
    readOffset = size;
    return full.length() > prefix.length() ? full.substring(prefix.length()) : "";
  }

  /** Whether tokens were fed whose text has not been returned yet. */
  public boolean holdsText() {
    return readOffset < size;
  }

  private void append(int id) {
    if (size == ids.length) {
      // Only the window from prefixOffset is ever read again: drop what lies before it.
      int shift = prefixOffset;
      if (shift > ids.length / 2) {
        System.arraycopy(ids, shift, ids, 0, size - shift);
        size -= shift;
        prefixOffset -= shift;
        readOffset -= shift;
      } else {
        ids = Arrays.copyOf(ids, ids.length * 2);
      }
    }
    ids[size++] = id;
  }
}
