package io.tandem.worker;

import io.tandem.inference.Sequence;
import io.tandem.inference.TextTokenizer;
import io.tandem.protocol.Chunk;
import java.util.Arrays;

/**
 * What one worker holds of one session: the model sequence (prompt first) and, for every session
 * position, where it ends in this model's tokens. Positions inside a chunk that this worker had to
 * re-encode (another vocabulary) are not valid cut points: rolling back into one falls back to the
 * chunk's start, and the session re-sends from there.
 *
 * <p>This is the worker half of the delta/position sync; {@link
 * io.tandem.protocol.worker.WorkerProtocol.Generate} documents the protocol and the session's half
 * lives with the session actor (docs/ARCHITECTURE.md, "The sync protocol").
 */
final class SessionView implements AutoCloseable {

  static final int NOT_A_CUT = -1;

  final String sessionId;
  /**
   * Who may start a sequence from this view's cache ({@link Scheduler#longestPrefix}): its
   * session's tenant ({@code ""} with none), and its request's {@code cache_salt} where it gave one
   * ({@link io.tandem.protocol.worker.WorkerProtocol.Generate#cacheScope}). A prefix shared across
   * tenants would tell one, by its {@code cached_tokens} and its speed, what another sent.
   */
  final String cacheScope;
  final Sequence sequence;
  /** cut[s] = sequence length after session position s (cut[0] = prompt length). */
  private int[] cut = new int[64];
  private int sessionLength;

  /**
   * A view of a new session: {@code sequence}, empty or holding a prefix of the prompt (forked from
   * a cached sequence), gets the rest of the prompt; session position 0.
   */
  SessionView(String sessionId, Sequence sequence, int[] promptIds) {
    this(sessionId, "", sequence, promptIds);
  }

  /** {@link #SessionView(String, Sequence, int[])} of a session whose cache only {@code cacheScope} may share. */
  SessionView(String sessionId, String cacheScope, Sequence sequence, int[] promptIds) {
    this.sessionId = sessionId;
    this.cacheScope = cacheScope;
    this.sequence = sequence;
    sequence.append(java.util.Arrays.copyOfRange(promptIds, sequence.length(), promptIds.length));
    cut[0] = promptIds.length;
    sessionLength = 0;
  }

  /** The prompt's tokens, at the start of {@link #sequence}. */
  int promptLength() {
    return cut[0];
  }

  /** Session tokens held after the prompt. */
  int sessionLength() {
    return sessionLength;
  }

  /**
   * Rolls back to session position {@code position} or, when that falls inside a re-encoded chunk,
   * to the nearest cut before it.
   *
   * @return the position now held
   */
  int truncateTo(int position) {
    int p = Math.min(position, sessionLength);
    while (p > 0 && cut[p] == NOT_A_CUT) p--;
    if (p < sessionLength) {
      sequence.truncate(cut[p]);
      sessionLength = p;
    }
    return p;
  }

  /** Appends a chunk of session tokens: ids as they are in this vocabulary, or re-encoded text. */
  void append(Chunk chunk, TextTokenizer tokenizer) {
    if (chunk.tokens().isEmpty()) return;
    if (chunk.tokenizerKey() != null && chunk.tokenizerKey().equals(tokenizer.key())) {
      int[] ids = new int[chunk.tokens().size()];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = chunk.tokens().get(i).id();
        tokenizer.learn(ids[i], chunk.tokens().get(i).text());
      }
      appendOwn(ids);
    } else {
      int[] ids = tokenizer.encode(chunk.text());
      sequence.append(ids);
      int n = chunk.tokens().size();
      ensure(sessionLength + n + 1);
      for (int i = 1; i < n; i++) cut[sessionLength + i] = NOT_A_CUT;
      sessionLength += n;
      cut[sessionLength] = sequence.length();
    }
  }

  /** Appends tokens of this worker's own vocabulary, one session position each. */
  void appendOwn(int[] ids) {
    sequence.append(ids);
    recordOwn(ids.length);
  }

  /** Records that {@code n} own tokens were appended to the sequence (by the model's forward pass). */
  void recordOwn(int n) {
    ensure(sessionLength + n + 1);
    int base = sequence.length() - n;
    for (int i = 1; i <= n; i++) cut[sessionLength + i] = base + i;
    sessionLength += n;
  }

  /** Bytes of cache the sequence holds (what the worker's {@code kv-cache-bytes} budget counts). */
  long bytes() {
    return sequence.cacheBytes();
  }

  private void ensure(int size) {
    if (size > cut.length) cut = Arrays.copyOf(cut, Math.max(size, cut.length * 2));
  }

  @Override
  public void close() {
    sequence.close();
  }
}
