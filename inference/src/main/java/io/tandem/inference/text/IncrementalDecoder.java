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
 *
 * <p>Generation reads {@link #next} alone, as vLLM's detokenizer reads {@code DecodeStream.step}
 * and never flushes: what is still held back when a sequence ends is not output. That is bytes
 * that never completed a character, and with them whatever came since the last delta that did not
 * end in U+FFFD (a random-weight model repeating a token of bytes {@code 92 E1 9E} wrote eleven
 * whole characters between a lone continuation byte and a trailing half character, and output
 * nothing, as vLLM does: tester62b). {@link #flush} is for callers that want all of {@code decode}.
 */
public final class IncrementalDecoder {

  private final TextTokenizer tokenizer;
  private int[] ids = new int[64];
  private int size;
  // ids[prefixOffset, readOffset) is the context already emitted; ids[readOffset, size) is pending.
  private int prefixOffset;
  private int readOffset;
  /** The context and how many of its ids are output, until {@link #settle} reads them; null after. */
  private int[] context;
  private int output;

  /** A decoder for a sequence that starts with no context. */
  public IncrementalDecoder(TextTokenizer tokenizer) {
    this.tokenizer = tokenizer;
  }

  /**
   * A decoder whose first tokens continue {@code context} (the prompt's last tokens): their text
   * is decoded as it reads after that context, e.g. keeping a SentencePiece word's leading space. A
   * prompt that ends within a character (a prompt given as token ids) is read without those bytes,
   * so that the output's text is its own ids' (bytes continuing the character show as U+FFFD) and
   * never begins within a character.
   */
  public IncrementalDecoder(TextTokenizer tokenizer, int[] context) {
    this(tokenizer, context, 0);
  }

  /**
   * Ids of output whose text an earlier decoder may have held back, at most: a character's bytes take at most 4
   * byte-level tokens; more only where a model writes bytes that never complete one, each read as U+FFFD (tester60d:
   * 20 in a row lost 3 at 16). Past this many, the first are taken as sent.
   */
  public static final int MAX_HELD = 64;

  /** Ids of context a decoder keeps before the held ones: a few settle spacing and complete a split character. */
  public static final int CONTEXT = 6;

  /**
   * A decoder that goes on with output another decoder began: the last {@code output} ids of
   * {@code context} are output (an earlier step of the sequence, on this worker or another), and
   * those whose text that decoder held back, as {@link #next} holds back a text ending in U+FFFD (a
   * step that ended within a character), come out with the first token that completes the text, so
   * that the steps' texts concatenate to {@code decode(all output ids)}. The ids before them are
   * the prompt, read as {@link #IncrementalDecoder(TextTokenizer, int[])} reads it. Give
   * {@link #CONTEXT} plus {@link #MAX_HELD} ids of context or more, so that every held id is found.
   *
   * @param output how many of the last ids of {@code context} are output, not prompt (0 to its length)
   * @throws IllegalArgumentException if {@code output} is negative or more than {@code context.length}
   */
  public IncrementalDecoder(TextTokenizer tokenizer, int[] context, int output) {
    this(tokenizer);
    if (output < 0 || output > context.length)
      throw new IllegalArgumentException("output " + output + " of a context of " + context.length + " ids");
    this.context = context.clone();
    this.output = output;
  }

  /**
   * Reads the context, once, before the first token: not in the constructor, as a worker in front of an engine makes a
   * decoder it never feeds (the engine writes the text), with a tokenizer that decodes only what it was asked for.
   */
  private void settle() {
    if (context == null) return;
    int[] context = this.context;
    this.context = null;
    // The prompt's own trailing bytes of a character are left out of the context.
    int promptEnd = context.length - output;
    int dropped = 0;
    while (dropped < MAX_HELD && endsWithinACharacter(context, promptEnd - dropped)) dropped++;
    int[] read = new int[promptEnd - dropped + output];
    System.arraycopy(context, 0, read, 0, promptEnd - dropped);
    System.arraycopy(context, promptEnd, read, promptEnd - dropped, output);
    // The held ids are those after the last one whose text, read up to it, did not end in U+FFFD.
    int held = 0;
    while (held < Math.min(output, MAX_HELD) && endsWithinACharacter(read, read.length - held)) held++;
    for (int i = Math.max(0, read.length - held - CONTEXT); i < read.length; i++) append(read[i]);
    int emitted = size - held;
    prefixOffset = 0;
    readOffset = emitted;
  }

  /** Whether {@code context[0, end)}, decoded, ends with bytes of a character not completed (U+FFFD). */
  private boolean endsWithinACharacter(int[] context, int end) {
    return end > 0 && tokenizer.decode(Arrays.copyOfRange(context, Math.max(0, end - CONTEXT - MAX_HELD), end)).endsWith("\uFFFD");
  }

  /** Adds one token and returns the text it completes: possibly empty, never a broken character. */
  public String next(int id) {
    settle();
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
    settle();
    if (readOffset == size) return "";
    String prefix = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, readOffset));
    String full = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, size));
    prefixOffset = readOffset;
    readOffset = size;
    return full.length() > prefix.length() ? full.substring(prefix.length()) : "";
  }

  /** Whether tokens were fed whose text has not been returned yet. */
  public boolean holdsText() {
    settle();
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
