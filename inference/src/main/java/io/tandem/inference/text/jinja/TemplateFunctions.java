package io.tandem.inference.text.jinja;

import java.time.ZonedDateTime;

/** The globals Hugging Face adds to every chat template: {@code raise_exception} and {@code strftime_now}. */
public final class TemplateFunctions {

  private TemplateFunctions() {}

  /** A template called {@code raise_exception(message)}: the conversation does not fit the template. */
  public static final class TemplateRaisedException extends RuntimeException {
    /** @param message what the template said */
    public TemplateRaisedException(String message) {
      super(message);
    }
  }

  /** {@code raise_exception(message)}: always throws {@link TemplateRaisedException}. */
  public static Object raiseException(Object message) {
    throw new TemplateRaisedException(String.valueOf(message));
  }

  /** {@code strftime_now(format)}: the current local time, formatted as Python's {@code strftime}. */
  public static String strftimeNow(String format) {
    return com.hubspot.jinjava.objects.date.StrftimeFormatter.format(ZonedDateTime.now(), format);
  }

  /** Python's {@code slice(start, stop, step)}, for templates that slice lists. */
  public static PySlice slice(Object start, Object stop, Object step) {
    return PySlice.of(start, stop, step);
  }
}
