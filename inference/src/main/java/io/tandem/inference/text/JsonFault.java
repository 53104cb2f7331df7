package io.tandem.inference.text;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.nio.file.Path;

/**
 * A checkpoint's JSON file that does not parse, said in one line: its place and what is wrong in
 * JSON's own terms (RFC 8259), not Jackson's wording, which names its parser features ("enable
 * JsonParser.Feature.ALLOW_NON_NUMERIC_NUMBERS") and may quote kilobytes of the file.
 */
public final class JsonFault {
  private JsonFault() {}

  /** The most characters of Jackson's own first line kept where no plainer words are known. */
  private static final int KEPT = 100;

  /** {@code FILE: not valid JSON at line L, column C (what is wrong)}. */
  public static String of(Path file, JsonProcessingException e) {
    JsonLocation at = e.getLocation();
    return file + ": not valid JSON" + (at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr())
        + " (" + what(e) + ")";
  }

  /**
   * What is wrong, in plain words where Jackson's are its own (a feature to enable, a token "bound
   * as" a class), else the first line of its message without its quote of the source, at most
   * {@value #KEPT} characters.
   */
  public static String what(JsonProcessingException e) {
    String m = e.getOriginalMessage() == null ? "" : e.getOriginalMessage();
    if (m.startsWith("Trailing token")) return "more after the JSON value, which json.load refuses as extra data";
    if (m.contains("ALLOW_NON_NUMERIC_NUMBERS")) return "NaN or Infinity, which are no JSON numbers";
    if (m.contains("ALLOW_COMMENTS")) return "a comment, which JSON does not have";
    if (m.contains("ALLOW_SINGLE_QUOTES")) return "a single quote, where JSON takes double quotes";
    if (m.contains("ALLOW_UNQUOTED_FIELD_NAMES") || m.contains("was expecting double-quote to start field name"))
      return "a member name without double quotes, or a comma with no member after it";
    if (m.startsWith("Unexpected end-of-input")) return "the file ends before the JSON does: it was cut short";
    String first = m.lines().findFirst().orElse("");
    int source = first.indexOf(" at [Source");
    if (source < 0) source = first.indexOf("(start marker at");
    if (source >= 0) first = first.substring(0, source).strip();
    return first.length() <= KEPT ? first : first.substring(0, KEPT) + "...";
  }
}
