package io.tandem.protocol.text;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A text file read as UTF-8, whose bytes that are not UTF-8 are a mistake said as one: the JDK's
 * own message, {@code Input length = 1}, names neither the file nor the problem.
 */
public final class Utf8Files {
  private Utf8Files() {}

  /**
   * The text of {@code file}, which {@code what} names ({@code "--data"}, {@code "API keys file"}).
   *
   * @throws IllegalArgumentException {@code WHAT FILE: not UTF-8 text ...; save it as UTF-8}
   * @throws IOException when it cannot be read at all
   */
  public static String read(String what, Path file) throws IOException {
    try {
      return Files.readString(file);
    } catch (CharacterCodingException e) {
      throw notUtf8(what, file, e);
    }
  }

  /** {@link #read}, as lines. */
  public static List<String> lines(String what, Path file) throws IOException {
    try {
      return Files.readAllLines(file);
    } catch (CharacterCodingException e) {
      throw notUtf8(what, file, e);
    }
  }

  /** The refusal of {@code file}, which {@code what} names, whose bytes are not UTF-8 ({@code e}). */
  public static IllegalArgumentException notUtf8(String what, Path file, CharacterCodingException e) {
    return new IllegalArgumentException(what + " " + file + ": not UTF-8 text (Tandem reads text files as UTF-8); save it"
        + " as UTF-8", e);
  }
}
