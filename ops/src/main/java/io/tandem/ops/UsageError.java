package io.tandem.ops;

import java.util.function.Supplier;

/**
 * A value on the command line that a command refuses after picocli parsed it: out of its range,
 * not among its choices, or not of its form. {@link Tandem#commandLine} answers it as picocli
 * answers what its parser refuses: one line on stderr and exit status 2 (picocli's {@code
 * ExitCode.USAGE}), as it answers a setting that cannot be used. A file or folder that is not there,
 * a port that is taken, a device this machine lacks are not usage errors: they exit 1.
 *
 * <p>It is an {@link IllegalArgumentException}, so code outside picocli (tests, the simulator) that
 * builds the same options sees the exception it always did.
 */
public final class UsageError extends IllegalArgumentException {

  /** @param message the option, its value, what is wrong and what to give instead, in one line */
  public UsageError(String message) {
    super(message);
  }

  public UsageError(String message, Throwable cause) {
    super(message, cause);
  }

  /**
   * {@code value} when it is at least {@code min}.
   *
   * @throws UsageError {@code OPTION VALUE: give a whole number >= MIN}
   */
  public static int atLeast(String option, int value, int min) {
    if (value < min) throw new UsageError(option + " " + value + ": give a whole number >= " + min);
    return value;
  }

  /**
   * {@code value} when it is from {@code min} to {@code max}.
   *
   * @throws UsageError {@code OPTION VALUE: give a whole number from MIN to MAX}
   */
  public static int within(String option, int value, int min, int max) {
    if (value < min || value > max)
      throw new UsageError(option + " " + value + ": give a whole number from " + min + " to " + max);
    return value;
  }

  /**
   * What {@code parse} makes of an option's value, its {@link IllegalArgumentException} (which
   * says what the value may be) turned into a usage error naming the option.
   *
   * @throws UsageError {@code OPTION: WHY}
   */
  public static <T> T parse(String option, Supplier<T> parse) {
    try {
      return parse.get();
    } catch (UsageError e) {
      throw e;
    } catch (IllegalArgumentException e) {
      throw new UsageError(option + ": " + e.getMessage(), e);
    }
  }

  /**
   * An error about a value given by {@code givenBy}: a usage error when that is an option
   * ({@code --device}), a {@link io.tandem.protocol.config.InvalidConfigException} when it is a
   * config key ({@code tandem.small.devices}); both exit 2.
   */
  public static IllegalArgumentException of(String givenBy, String message, Throwable cause) {
    return givenBy.startsWith("--") ? new UsageError(message, cause)
        : io.tandem.protocol.config.InvalidConfigException.setting(givenBy, message, cause);
  }
}
