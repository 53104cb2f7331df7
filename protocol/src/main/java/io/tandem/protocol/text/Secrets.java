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
   * A run of a Bearer token's characters (RFC 6750), dots and equals signs included: a path, a
   * setting's path, {@code --option=VALUE}, a base64 key with its padding. A run never begins right
   * after one of them, so each is taken whole.
   */
  private static final Pattern RUN = Pattern.compile("(?<![A-Za-z0-9_~+/.=-])[A-Za-z0-9_~+/.=-]+");

  /** A piece of a run between equals signs, and the parts of a piece between dots, each looked at alone. */
  private static final Pattern PIECE = Pattern.compile("[^=]+"), PART = Pattern.compile("[^.]+");

  /** A part between {@code -}, {@code _} and {@code /} that is hex: 12 or more hex digits, letters and digits mixed. */
  private static final Pattern HEX = Pattern.compile("(?=.*[0-9])(?=.*[a-fA-F])(?:[0-9a-f]{12,}|[0-9A-F]{12,})");

  /**
   * A class name as Hugging Face's configs write them ({@code Qwen2ForCausalLM}, {@code LlamaModel}), which switches
   * between digits, capitals and small letters as often as a short key (tester59b: an architecture named in an error,
   * and the supported ones beside it, were hidden). No generated key ends so.
   */
  private static final Pattern CLASS_NAME = Pattern.compile("[A-Z][A-Za-z0-9_]*(For(CausalLM|MaskedLM|Seq2SeqLM|"
      + "ConditionalGeneration|SequenceClassification|TokenClassification|QuestionAnswering)|Model|Config|Tokenizer|TokenizerFast)");

  /** A part of a key's alphabet (base64's, base64url's after the split), 12 or more, letters and digits mixed. */
  private static final Pattern MIXED = Pattern.compile("(?=[A-Za-z0-9~+]*[0-9])(?=[A-Za-z0-9~+]*[A-Za-z])[A-Za-z0-9~+]{12,}");

  /** {@code text} with each run that looks like a key replaced by {@link #HIDDEN}. */
  public static String redact(String text) {
    if (text == null) return null;
    Matcher m = RUN.matcher(text);
    StringBuilder out = new StringBuilder();
    while (m.find()) m.appendReplacement(out, Matcher.quoteReplacement(redactRun(m.group())));
    m.appendTail(out);
    return out.toString();
  }

  /**
   * A run with its key-like parts hidden. Between equals signs, a piece that begins with a slash (one:
   * two begin a URL's host, or a key as its user, {@code http://KEY@host}: tester52f) is an absolute
   * path, shown as given (a Hugging Face snapshot's folder is named by a commit's hash),
   * unless it holds base64's {@code +} or ends in its padding, and looks like a key (about 1 in 64
   * base64 keys begins with a slash: tester52b); any other piece is looked at part by part between
   * its dots, a key's padding hidden with it.
   */
  private static String redactRun(String run) {
    StringBuilder out = new StringBuilder();
    Matcher pieces = PIECE.matcher(run);
    int at = 0;
    while (pieces.find()) {
      out.append(run, at, pieces.start());
      String piece = pieces.group();
      at = pieces.end();
      // A relative path whose first folder is there is a path (tester59b: a Hugging Face snapshot's folder, named by a
      // commit's hash, given relative to the cache, was hidden as a key), as an absolute one is below.
      if (!piece.startsWith("/") && piece.indexOf('/') > 0 && existing(piece.substring(0, piece.indexOf('/')))) {
        out.append(piece);
        continue;
      }
      // A URL's "//" begins its host, or a key in its user part (http://KEY@host): no path.
      if (piece.startsWith("/") && !piece.startsWith("//")) {
        boolean base64 = piece.contains("+") || (at < run.length() && run.substring(at).matches("=+"));
        if (base64 && keyLike(piece.substring(1))) {
          out.append(HIDDEN);
          at = run.length();
          break;
        }
        out.append(piece);
        continue;
      }
      Matcher parts = PART.matcher(piece);
      int p = 0;
      boolean hid = false;
      while (parts.find()) {
        out.append(piece, p, parts.start());
        hid = keyLike(parts.group());
        out.append(hid ? HIDDEN : parts.group());
        p = parts.end();
      }
      out.append(piece, p, piece.length());
      // A hidden key's base64 padding goes with it.
      if (hid && p == piece.length() && at < run.length() && run.substring(at).matches("=+")) {
        at = run.length();
        break;
      }
    }
    out.append(run, at, run.length());
    return out.toString();
  }

  /** Whether {@code name}, a relative path's first part, is a file or folder in the working directory (not a key). */
  private static boolean existing(String name) {
    try {
      // . and .. are always there: what follows them may still be a key (tester59f: ./KEY was shown).
      return !name.equals(".") && !name.equals("..") && !keyLike(name) && java.nio.file.Files.exists(java.nio.file.Path.of(name));
    } catch (java.nio.file.InvalidPathException | SecurityException e) {
      return false;
    }
  }

  /**
   * Whether {@code run} (no dots or equals signs in it) looks like a generated key: it begins {@code
   * sk-}; or a part of it between {@code -}, {@code _} and {@code /} is hex, or random (12 or more
   * letters and digits, mixed, that switch between digits, capitals and small letters at least at
   * 45% of their boundaries, 40% from 16 characters on); or the run's letters and digits together
   * are (20 or more switching at half their boundaries, or 24 or more hex digits: a uuid). Generated
   * base64 and base64url keys switch at about 65%; names, even those with digits in them ({@code
   * checkpoint5000}, {@code 20261206T091500Z}, {@code DeepSeek-R1-Distill-Qwen-1}, {@code
   * --served-model-name2}), at less. Tuned on 20,000 keys of each kind: missed are about 0.5% of
   * {@code secrets.token_urlsafe(32)} and of base64 keys of 32 bytes, 9% of {@code token_urlsafe(16)}
   * (short parts between its dashes, or letters alone), none of hex keys or uuids; hidden as keys are
   * names that switch as often as keys do ({@code k8sNodePool3A}, {@code gpunode01a2b3c}, {@code
   * Qwen2dot5Math1dot5BInstruct}).
   */
  public static boolean keyLike(String run) {
    if (run == null || run.isEmpty()) return false;
    if (run.startsWith("sk-") && run.length() >= 7) return true;
    // A class name whole (tester59f: MiniMaxM1ForCausalLM switched as often as a key does).
    if (CLASS_NAME.matcher(run).matches()) return false;
    for (String part : run.split("[-_/]")) {
      if (HEX.matcher(part).matches()) return true;
      if (CLASS_NAME.matcher(part).matches()) continue;
      if (MIXED.matcher(part).matches() && switches(part) >= (part.length() >= 16 ? 0.40 : 0.45)) return true;
    }
    String whole = run.replaceAll("[^A-Za-z0-9~+]", "");
    if (whole.length() >= 24 && HEX.matcher(whole).matches()) return true;
    return whole.length() >= 20 && MIXED.matcher(whole).matches() && switches(whole) >= 0.5;
  }

  /** Of the boundaries between {@code s}'s letters and digits, the share where the kind (digit, capital, small) changes. */
  private static double switches(String s) {
    int kinds = 0, changes = 0, last = -1;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      int kind = c >= '0' && c <= '9' ? 0 : c >= 'A' && c <= 'Z' ? 1 : c >= 'a' && c <= 'z' ? 2 : -1;
      if (kind < 0) continue;
      if (last >= 0 && kind != last) changes++;
      if (last >= 0) kinds++;
      last = kind;
    }
    return kinds == 0 ? 0 : (double) changes / kinds;
  }
}
