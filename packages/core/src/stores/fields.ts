/**
 * Fields records (a session's values by key, as stores keep and write them) without anything
 * inherited: the chain ends at an empty object with no prototype, so a key named `__proto__`,
 * `constructor` or `toString` is stored and read like any other. Unlike `Object.create(null)`,
 * which V8 makes a dictionary (every copy and every for-in over it a runtime call), such a record
 * stays in fast mode: a one-key write costs about 40 instead of 140 ns to make and copy (measured).
 */
const FieldsRecord = function FieldsRecord() {} as unknown as new () => Record<string, string>
FieldsRecord.prototype = Object.create(null)

/** An empty fields record (see above). */
export function newFields(): Record<string, string> {
  return new FieldsRecord()
}
