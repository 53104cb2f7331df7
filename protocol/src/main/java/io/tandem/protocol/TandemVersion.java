package io.tandem.protocol;

/** The release of Tandem this build is: {@code tandem --version} and {@code GET /version} say it. */
public final class TandemVersion {
  /** The version number, as {@code GET /version} gives it ({@code {"version": "..."}}, as vLLM's server does). */
  public static final String NUMBER = "0.1.0";

  private TandemVersion() {}
}
