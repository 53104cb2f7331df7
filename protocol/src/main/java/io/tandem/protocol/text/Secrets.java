package io.tandem.protocol.text;

import java.util.regex.Pattern;

/**
 * What a message must not repeat: text that may be an API key written in the wrong place (a config
 * file's syntax error, an unknown option's value, a key given as an argument). Messages go to logs a
 * supervisor keeps, where a key would stay readable (tester51b, tester51f). Not every key can be told
 * from other text: these are the shapes keys have ({@code sk-...}, random letters and digits, hex),
 * and what the messages around them never need to quote whole.
 */
public final class Secrets {

  private Secrets() {}

  /** What stands where a key-like run was. */
  public static final String HIDDEN = "(not shown here, in case it is a key)";

  /**
   * A run of a Bearer token's characters (RFC 6750; the dot, slash and equals sign left out, so that
   * a setting's path, {@code --option=VALUE} and a file's path split into their parts; a path's
   * segment, after a slash, is left as it is) that holds a digit and is 16 or more long, or mixes
   * upper and lower case and is 20 or more long, or begins {@code sk-}: a key's shape, not a word, a
   * setting's name or a class name.
   */
  private static final Pattern KEY_LIKE = Pattern.compile("(?<![A-Za-z0-9_~+/-])(?:sk-[A-Za-z0-9_~+-]{4,}"
      + "|(?=[A-Za-z0-9_~+-]{0,200}[0-9])(?=[A-Za-z0-9_~+-]{0,200}[A-Za-z])[A-Za-z0-9_~+-]{16,}|(?=[A-Za-z0-9_~+-]{0,200}[A-Z])"
      + "(?=[A-Za-z0-9_~+-]{0,200}[a-z])[A-Za-z0-9_~+-]{20,})(?![A-Za-z0-9_~+-])");

  /** {@code text} with each run that looks like a key replaced by {@link #HIDDEN}. */
  public static String redact(String text) {
    return text == null ? null : KEY_LIKE.matcher(text).replaceAll(java.util.regex.Matcher.quoteReplacement(HIDDEN));
  }

  /** Whether {@code text}, whole, looks like a key ({@link #redact} would hide it). */
  public static boolean keyLike(String text) {
    return text != null && KEY_LIKE.matcher(text).matches();
  }
}
