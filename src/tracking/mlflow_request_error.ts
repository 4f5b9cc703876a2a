/**
 * The error a tracking server call ends with.
 *
 * @module
 */

/** A failed MLflow REST call: HTTP status (0 = no answer), MLflow error code, endpoint. */
export class MlflowRequestError extends Error {
  /** HTTP status; 0 when the server could not be reached. */
  readonly status: number;
  /** MLflow's `error_code` (e.g. RESOURCE_DOES_NOT_EXIST), or a best guess. */
  readonly errorCode: string;
  /** Method and path of the call, e.g. `POST /api/2.0/mlflow/runs/log-batch`. */
  readonly endpoint: string;

  /** Builds the error; `message` follows "Cannot <action>: <what is wrong>". */
  constructor(
    message: string,
    details: { status: number; errorCode: string; endpoint: string },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "MlflowRequestError";
    this.status = details.status;
    this.errorCode = details.errorCode;
    this.endpoint = details.endpoint;
  }
}
