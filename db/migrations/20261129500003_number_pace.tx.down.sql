DROP TABLE number_pace;
