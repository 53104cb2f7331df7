package io.tandem.inference.text;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.nio.file.Path;

/** A checkpoint's JSON file that does not parse, said in one line: its place and Jackson's first line, not its source excerpt. */
public final class JsonFault {
  private JsonFault() {}

  /** {@code FILE: not valid JSON at line L, column C (what Jackson found)}. */
  public static String of(Path file, JsonProcessingException e) {
    // Jackson's own message runs over two lines with a source excerpt ("[Source: (File); line: 1, column: 16]").
    JsonLocation at = e.getLocation();
    return file + ": not valid JSON" + (at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr())
        + " (" + e.getOriginalMessage().lines().findFirst().orElse("") + ")";
  }
}
