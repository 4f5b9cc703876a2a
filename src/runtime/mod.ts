/**
 * Runtime and backend detection: one place, one frozen description.
 *
 * @module
 */
export * from "./backend.ts";
