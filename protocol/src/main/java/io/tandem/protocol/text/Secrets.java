package io.tandem.protocol.text;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a message must not repeat: text that may be an API key written in the wrong place (a config
 * file's syntax error, an unknown option's value, a key given as an argument, a setting's value).
 * Messages go to logs a supervisor keeps, where a key would stay readable (tester51b, tester51f).
 * Not every key can be told from other text: these are the shapes generated keys have ({@code
 * sk-...}, random letters and digits, hex), which the words, names, paths and numbers the messages
 * quote otherwise do not have; a key of letters alone, or shorter than 12, is not told apart.
 */
public final class Secrets {

  private Secrets() {}

  /** What stands where a key-like run was. */
  public static final String HIDDEN = "(not shown here, in case it is a key)";

  /**
   * A run of a Bearer token's characters (RFC 6750; the dot and equals sign left out, so that a
   * setting's path and {@code --option=VALUE} split into their parts). A slash stays in it: a base64
   * key holds one (tester51j: its part after the slash was never looked at); a run begins with no
   * slash, so an absolute path is never one (a relative path with a part of a key's shape is hidden
   * whole, which a key's safety is worth).
   */
  private static final Pattern RUN = Pattern.compile("(?<![A-Za-z0-9_~+/-])[A-Za-z0-9_~+-][A-Za-z0-9_~+/-]*");

  /** A part of a run between {@code -} and {@code _} that is random: 12 or more, letters and digits mixed. */
  private static final Pattern RANDOM_PART = Pattern.compile("(?=[A-Za-z0-9~+]*[0-9])(?=[A-Za-z0-9~+]*[A-Za-z])[A-Za-z0-9~+]{12,}");

  /** {@code text} with each run that looks like a key replaced by {@link #HIDDEN}. */
  public static String redact(String text) {
    if (text == null) return null;
    Matcher m = RUN.matcher(text);
    StringBuilder out = new StringBuilder();
    while (m.find()) m.appendReplacement(out, Matcher.quoteReplacement(keyLike(m.group()) ? HIDDEN : m.group()));
    m.appendTail(out);
    return out.toString();
  }

  /**
   * Whether {@code run}, whole, looks like a generated key: it begins {@code sk-}, or a part of it
   * between {@code -}, {@code _} and {@code /} is random ({@code sk-LEAK-0123456789abcdef}, a hex or base64
   * string), where option names, setting names and model names ({@code --served-model-name2},
   * {@code DeepSeek-R1-Distill-Qwen-1}, {@code TENANT_A_API_KEY_2024}) have short parts or words.
   */
  public static boolean keyLike(String run) {
    if (run == null || run.isEmpty()) return false;
    if (run.startsWith("sk-") && run.length() >= 7) return true;
    for (String part : run.split("[-_/]")) if (RANDOM_PART.matcher(part).matches()) return true;
    return false;
  }
}
