package io.tandem.inference.hf;

/** A checkpoint folder that cannot be loaded; the message names the file and what is wrong with it. */
public class CheckpointException extends RuntimeException {

  public CheckpointException(String message) {
    super(message);
  }

  public CheckpointException(String message, Throwable cause) {
    super(message, cause);
  }

  /**
   * Why {@code e} could not read a checkpoint's file, for a message's parentheses: its own words, or, where the file's
   * permissions stop the user Tandem runs as, that and what to do (tester59b: "cannot read (PATH)" said neither).
   */
  public static String why(java.io.IOException e) {
    if (e instanceof java.nio.file.AccessDeniedException)
      return "permission denied; give the user Tandem runs as read access to it, e.g. chmod a+r";
    return e.getMessage();
  }
}
