package io.tandem.protocol.text;

import io.tandem.protocol.Token;
import java.util.List;
import java.util.Optional;

/**
 * Finds stop strings in generated text, as vLLM's {@code stop} does: at text level, so a stop
 * string split across tokens counts.
 *
 * <p>When several stops occur, the one that <em>ends</em> first wins (and of those, the longest):
 * that is the one a reader checking after every token sees first, so the answer does not depend on
 * how the text was split into tokens. Immutable and thread-safe.
 */
public final class StopStrings {

  /** A stop string found in text: {@code text[start, end)} equals {@code stop}. */
  public record Match(String stop, int start, int end) {
    /** The text to keep when the stop string itself is excluded (vLLM's default). */
    public String before(CharSequence text) {
      return text.subSequence(0, start).toString();
    }

    /** The text to keep when the stop string is included (as a speculative-thinking trigger is). */
    public String through(CharSequence text) {
      return text.subSequence(0, end).toString();
    }
  }

  private final List<String> stops;
  private final int longest;

  /** @throws IllegalArgumentException when a stop string is null or empty (it would match everywhere) */
  public StopStrings(List<String> stops) {
    for (String s : stops) {
      if (s == null || s.isEmpty()) throw new IllegalArgumentException("stop strings must be non-empty, got " + stops);
    }
    this.stops = List.copyOf(stops);
    this.longest = this.stops.stream().mapToInt(String::length).max().orElse(0);
  }

  /** The stop strings, in the order given. */
  public List<String> stops() {
    return stops;
  }

  /** The first stop string anywhere in {@code text}. */
  public Optional<Match> find(CharSequence text) {
    return find(text, text.length());
  }

  /**
   * The first stop string in {@code text} that involves its last {@code newChars} characters: the
   * check to run after appending a token's text to text already checked. Only the tail where a new
   * match can end is searched, so each check costs O(new text + longest stop).
   */
  public Optional<Match> find(CharSequence text, int newChars) {
    int n = text.length();
    int from = Math.max(0, n - newChars - longest + 1);
    Match best = null;
    for (String stop : stops) {
      int at = indexOf(text, stop, from);
      // A short stop may sit wholly in the text checked before: skip to one touching the new text.
      while (at >= 0 && at + stop.length() <= n - newChars) at = indexOf(text, stop, at + 1);
      if (at < 0) continue;
      int end = at + stop.length();
      if (best == null || end < best.end || (end == best.end && at < best.start)) {
        best = new Match(stop, at, end);
      }
    }
    return Optional.ofNullable(best);
  }

  /**
   * How many characters at the end of {@code text} could be the beginning of a stop string: a
   * streaming server holds these back until the next token shows whether a stop follows.
   */
  public int partialMatchLength(CharSequence text) {
    int n = text.length();
    int best = 0;
    for (String stop : stops) {
      for (int len = Math.min(stop.length() - 1, n); len > best; len--) {
        if (regionMatches(text, n - len, stop, len)) {
          best = len;
          break;
        }
      }
    }
    return best;
  }

  /**
   * The number of tokens up to and including the first one whose text completes a stop string
   * (the text of all tokens so far, so a stop split across tokens counts), or -1 when none does:
   * where a generation that stops at these strings, keeping them, ends.
   */
  public int tokensThroughFirstMatch(List<Token> tokens) {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < tokens.size(); i++) {
      String t = tokens.get(i).text();
      text.append(t);
      if (find(text, t.length()).isPresent()) return i + 1;
    }
    return -1;
  }

  private static int indexOf(CharSequence text, String stop, int from) {
    if (text instanceof String s) return s.indexOf(stop, from);
    int last = text.length() - stop.length();
    for (int i = from; i <= last; i++) {
      if (regionMatches(text, i, stop, stop.length())) return i;
    }
    return -1;
  }

  private static boolean regionMatches(CharSequence text, int offset, String stop, int len) {
    for (int k = 0; k < len; k++) {
      if (text.charAt(offset + k) != stop.charAt(k)) return false;
    }
    return true;
  }
}
