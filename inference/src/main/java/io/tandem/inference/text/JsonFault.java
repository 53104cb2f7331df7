package io.tandem.inference.text;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.protocol.text.JsonSyntax;
import io.tandem.protocol.text.Utf8Files;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A checkpoint's JSON file read as transformers reads it ({@code json.load(open(file, encoding=
 * "utf-8"))}): UTF-8 text (a leading byte order mark dropped, as Python's {@code utf-8-sig} does,
 * the rule of {@link Utf8Files} for every text file Tandem reads), one JSON value; what does not
 * parse is said in one line, in JSON's own terms ({@link JsonSyntax}), not in Jackson's, which
 * names its parser features ("enable JsonParser.Feature.ALLOW_NON_NUMERIC_NUMBERS") and may quote
 * kilobytes of the file.
 */
public final class JsonFault {
  private JsonFault() {}

  /** A checkpoint file that is not UTF-8 or not JSON; its message names the file and the fault. */
  public static final class NotJson extends IllegalArgumentException {
    NotJson(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * The JSON value of {@code file}, read with {@code mapper} (its features: trailing tokens refused
   * and so on) from the file's text.
   *
   * @return the value; a {@code MissingNode} for a file of whitespace alone
   * @throws NotJson {@code FILE: not valid JSON (line L, column C): what} or {@code checkpoint file
   *     FILE: not UTF-8 text ...; save it as UTF-8}
   * @throws IOException when the file cannot be read at all
   */
  public static JsonNode read(ObjectMapper mapper, Path file) throws IOException {
    String text;
    try {
      text = Utf8Files.read("checkpoint file", file);
    } catch (IllegalArgumentException e) {
      throw new NotJson(e.getMessage(), e);
    }
    try {
      return mapper.readTree(text);
    } catch (JsonProcessingException e) {
      throw new NotJson(file + ": not valid JSON" + JsonSyntax.of(e, text, "file"), e);
    }
  }
}
