package io.tandem.orchestrator.machine;

import io.tandem.protocol.config.SpeculativeConfig;
import java.util.List;
import java.util.Locale;

/**
 * The paper's keyword sentiment of a step: +1 leaning positive ("yes", "final answer"), -1
 * hesitating or asking to verify ("wait", "check"), 0 when no keyword occurs. The counting follows
 * the paper's reference code (Python's {@code str.count} on lower-cased text); the rule is in
 * docs/ARCHITECTURE.md, "The algorithm".
 */
public final class Sentiment {
  private Sentiment() {}

  /** Sentiment under a config: positive keywords against negative plus verify keywords. */
  public static int of(String text, SpeculativeConfig config) {
    return of(text, config.positiveKeywords(), config.negativeAndVerifyKeywords());
  }

  /**
   * More positive occurrences: +1; more negative: -1; as many of each, and some: -1 (a step that
   * hesitates is not trusted); none: 0.
   */
  public static int of(String text, List<String> positive, List<String> negative) {
    String lower = text.toLowerCase(Locale.ROOT);
    int pos = 0;
    for (String k : positive) pos += count(lower, k);
    int neg = 0;
    for (String k : negative) neg += count(lower, k);
    if (pos > neg) return 1;
    if (neg > pos) return -1;
    return pos > 0 ? -1 : 0;
  }

  /** True when the lower-cased text contains one of the keywords. */
  public static boolean containsAny(String text, List<String> keywords) {
    String lower = text.toLowerCase(Locale.ROOT);
    for (String k : keywords) {
      if (lower.contains(k.toLowerCase(Locale.ROOT))) return true;
    }
    return false;
  }

  /**
   * Non-overlapping occurrences of {@code keyword} in already lower-cased text, as Python's
   * {@code str.count}. Keywords are lower-cased too: an upper-case keyword could never match.
   */
  static int count(String lowerText, String keyword) {
    String k = keyword.toLowerCase(Locale.ROOT);
    if (k.isEmpty()) return 0;
    int n = 0;
    for (int i = lowerText.indexOf(k); i >= 0; i = lowerText.indexOf(k, i + k.length())) n++;
    return n;
  }
}
