//! CreateKey, DescribeKey, EnableKey, DisableKey, UpdateKeyDescription, ScheduleKeyDeletion, CancelKeyDeletion, ListKeys.
